"""Nominatim's jsonv2 results, shaped into the route's documented answer."""

from __future__ import annotations

from typing import Any

import pytest

from bakery_gateway.errors import BadDownstreamResponseError
from bakery_gateway.own_routes.geocoding import ATTRIBUTION, GeocodeAnswer, shape_results
from bakery_gateway.own_routes.geocoding_request import GeocodeQuery
from tests.support.fake_nominatim import place_for


def nominatim_place(**changes: Any) -> dict[str, Any]:
    place = place_for({"q": "Puerta del Sol"})
    place.update(changes)
    return {key: value for key, value in place.items() if value is not None}


def test_a_place_is_shaped_with_numbers_for_coordinates_and_box() -> None:
    place = nominatim_place()

    (result,) = shape_results([place])

    assert result == {
        "display_name": "Puerta del Sol, Centro, Madrid, Comunidad de Madrid, 28013, España",
        "latitude": 40.4168898,
        "longitude": -3.7038261,
        "category": "place",
        "type": "square",
        "importance": 0.5423,
        "osm_type": "node",
        "osm_id": 2_640_337_070,
        "address": place["address"],  # as Nominatim gave it
        "bounding_box": [40.4163898, 40.4173898, -3.7043261, -3.7033261],
    }


def test_no_places_is_an_empty_list() -> None:
    assert shape_results([]) == []


def test_optional_members_missing_upstream_are_null_or_empty() -> None:
    (result,) = shape_results(
        [nominatim_place(importance=None, address=None, boundingbox=None, category=None)]
    )

    assert result["importance"] is None
    assert result["address"] == {}
    assert result["bounding_box"] is None
    assert result["category"] is None


def test_the_older_json_formats_class_is_read_as_the_category() -> None:
    place = nominatim_place(category=None)
    place["class"] = "highway"

    assert shape_results([place])[0]["category"] == "highway"


@pytest.mark.parametrize(
    "payload",
    [
        {"error": "Unable to geocode"},
        "Madrid",
        [42],
        [{"lat": "40.4", "lon": "-3.7"}],  # no display name
    ],
)
def test_an_answer_that_is_not_a_list_of_places_is_a_502(payload: object) -> None:
    with pytest.raises(BadDownstreamResponseError):
        shape_results(payload)


@pytest.mark.parametrize(("lat", "lon"), [("north", "-3.7"), ("91", "-3.7"), ("40.4", "nan"), (None, "-3.7")])
def test_a_place_without_valid_coordinates_is_a_502(lat: object, lon: object) -> None:
    with pytest.raises(BadDownstreamResponseError):
        shape_results([nominatim_place(lat=lat, lon=lon)])


def test_the_answer_document_carries_the_query_the_flag_and_the_attribution() -> None:
    query = GeocodeQuery(address="Sol")

    document = GeocodeAnswer(query, [], cached=True).document()

    assert document == {
        "query": {"address": "Sol", "limit": 5},
        "results": [],
        "cached": True,
        "attribution": ATTRIBUTION,
    }
