"""The body of POST /api/v1/geocode: what is accepted, how it is normalised, what is refused."""

from __future__ import annotations

import json

import pytest

from bakery_gateway.errors import InvalidGeocodeRequestError
from bakery_gateway.own_routes.geocoding_request import GeocodeQuery, parse_geocode_request


def parse(document: object) -> GeocodeQuery:
    return parse_geocode_request(json.dumps(document).encode())


def refusal(document: object) -> dict[str, str]:
    """The fields named by the 400 problem, and why."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(InvalidGeocodeRequestError) as caught:
        parse_geocode_request(body)
    params = caught.value.extensions["invalid_params"]
    assert isinstance(params, list)
    return {param["name"]: param["reason"] for param in params}


def test_free_text_is_sent_as_q_with_jsonv2_and_address_details() -> None:
    query = parse({"address": "Calle Mayor 1, Madrid"})

    assert query.search_parameters() == {
        "format": "jsonv2",
        "addressdetails": "1",
        "limit": "5",
        "q": "Calle Mayor 1, Madrid",
    }


def test_structured_fields_are_sent_under_nominatims_names() -> None:
    query = parse({"street": "1 Calle Mayor", "city": "Madrid", "postalcode": "28013", "country": "Spain"})

    parameters = query.search_parameters()

    assert {key: parameters[key] for key in ("street", "city", "postalcode", "country")} == {
        "street": "1 Calle Mayor",
        "city": "Madrid",
        "postalcode": "28013",
        "country": "Spain",
    }
    assert "q" not in parameters


def test_country_codes_are_lower_cased_sorted_and_sent_comma_separated() -> None:
    query = parse({"address": "Sol", "country_codes": ["PT", "es", "ES"]})

    assert query.country_codes == ("es", "pt")
    assert query.search_parameters()["countrycodes"] == "es,pt"


@pytest.mark.parametrize(
    ("given", "normalised"), [("es", "es"), ("ES", "es"), ("es-es", "es-ES"), ("ca-ES", "ca-ES")]
)
def test_a_language_tag_is_normalised_to_bcp_47_case(given: str, normalised: str) -> None:
    assert parse({"address": "Sol", "language": given}).language == normalised


def test_spelling_differences_share_one_fingerprint() -> None:
    one = parse({"address": "Calle  Mayor 1,\nMadrid", "country_codes": ["ES"]})
    other = parse({"address": "calle mayor 1, MADRID", "country_codes": ["es"]})

    assert one.fingerprint() == other.fingerprint()


def test_a_different_limit_or_language_is_a_different_fingerprint() -> None:
    base = parse({"address": "Sol"}).fingerprint()

    assert parse({"address": "Sol", "limit": 2}).fingerprint() != base
    assert parse({"address": "Sol", "language": "fr"}).fingerprint() != base


def test_the_answer_echoes_the_normalised_query() -> None:
    query = parse({"address": " Sol ", "language": "es-es", "country_codes": ["ES"], "limit": 3})

    assert query.document() == {"address": "Sol", "language": "es-ES", "country_codes": ["es"], "limit": 3}


@pytest.mark.parametrize("body", [b"not json", b"[]", b'"Madrid"', b""])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    assert refusal(body) == {"body": "must be a JSON object"}


def test_a_request_without_address_or_structured_fields_names_address() -> None:
    assert set(refusal({"language": "es"})) == {"address"}


def test_a_blank_address_counts_as_missing() -> None:
    assert set(refusal({"address": "   "})) == {"address"}


def test_address_and_structured_fields_together_are_refused() -> None:
    assert "not both" in refusal({"address": "Sol", "city": "Madrid"})["address"]


def test_every_bad_field_is_named_at_once() -> None:
    refused = refusal(
        {"address": 12, "language": "spanish!", "country_codes": ["ESP"], "limit": 11, "colour": "red"}
    )

    assert set(refused) == {"address", "language", "country_codes", "limit", "colour"}
    assert refused["colour"] == "unknown field"


@pytest.mark.parametrize("limit", [0, 11, True, "5", 2.5])
def test_a_limit_outside_1_to_10_is_refused(limit: object) -> None:
    assert set(refusal({"address": "Sol", "limit": limit})) == {"limit"}


@pytest.mark.parametrize(
    "codes", ["es", ["e"], ["es", 1], [f"{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(31)]]
)
def test_country_codes_must_be_a_short_list_of_two_letter_codes(codes: object) -> None:
    assert set(refusal({"address": "Sol", "country_codes": codes})) == {"country_codes"}


def test_an_overlong_field_is_refused() -> None:
    assert set(refusal({"street": "x" * 256})) == {"street"}


def test_the_problem_is_a_400_with_its_own_type() -> None:
    with pytest.raises(InvalidGeocodeRequestError) as caught:
        parse_geocode_request(b"{}")

    assert caught.value.status == 400
    assert caught.value.problem_type == "invalid-geocode-request"
