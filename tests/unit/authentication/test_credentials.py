"""The credentials a request carries: a bearer token or an API key, read from its headers."""

from __future__ import annotations

import pytest

from bakery_gateway.authentication.credentials import api_key, bearer_token


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER  abc ", "abc"),
        ("Basic abc", None),
    ],
)
def test_the_bearer_token_is_read_case_insensitively(header: str, token: str | None) -> None:
    assert bearer_token({"authorization": header}) == token


def test_the_apikey_authorization_scheme_carries_a_key() -> None:
    assert api_key({"authorization": "ApiKey bk_x"}) == "bk_x"
    assert api_key({"authorization": "apikey  bk_x "}) == "bk_x"


def test_x_api_key_counts_only_without_an_authorization_header() -> None:
    # Behind the caching authorizer the verdict is cached by Authorization alone: another header
    # must not change it.
    assert api_key({"x-api-key": "bk_x"}) == "bk_x"
    assert api_key({"authorization": "Bearer eyJ", "x-api-key": "bk_x"}) is None
