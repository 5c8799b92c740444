"""The transport-neutral request: its query, its id, and where the gateway's apps find it."""

from __future__ import annotations

import uuid

import pytest

from bakery_gateway.api.request import REQUEST_SCOPE_KEY, Request, request_id_for, request_in


def request(query_string: str = "") -> Request:
    return Request(
        method="GET",
        raw_path="/api/v1/sales/items",
        path="/api/v1/sales/items",
        query_string=query_string,
        headers={},
        body=b"",
        source_ip="203.0.113.10",
        host="gateway.example",
        scheme="https",
    )


def test_the_query_keeps_every_value_of_a_repeated_parameter_decoded_and_in_order() -> None:
    assert request("day=mon&day=tue&q=a%20b&empty=").query == {
        "day": ["mon", "tue"],
        "q": ["a b"],
        "empty": [""],
    }


def test_a_request_without_a_query_has_no_parameters() -> None:
    assert request().query == {}


def test_the_request_is_found_in_the_scope_the_adapter_made() -> None:
    made = request()

    assert request_in({REQUEST_SCOPE_KEY: made}) is made


def test_a_scope_without_a_request_is_a_wiring_fault() -> None:
    with pytest.raises(KeyError):
        request_in({})
    with pytest.raises(TypeError):
        request_in({REQUEST_SCOPE_KEY: {"method": "GET"}})


@pytest.mark.parametrize("value", ["abc-123", "a" * 128, "req.1:2_3", str(uuid.uuid4())])
def test_a_sane_client_request_id_is_kept(value: str) -> None:
    assert request_id_for(value) == value


@pytest.mark.parametrize(
    "value",
    [None, "", "a" * 129, "has space", "semi;colon", "new\nline", "-leading", "<script>", "Root=1-abc"],
)
def test_an_unsafe_client_request_id_is_replaced_by_a_uuid(value: str | None) -> None:
    generated = request_id_for(value)

    assert generated != value
    assert uuid.UUID(generated).version == 4
