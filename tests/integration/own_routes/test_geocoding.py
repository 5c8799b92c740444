"""``POST /api/v1/geocode`` through the real proxy handler, a real Redis and a fake Nominatim over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.own_routes.geocoding import ATTRIBUTION
from bakery_gateway.settings import DEFAULT_GEOCODING_USER_AGENT
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.integration.conftest import GatewayStarter
from tests.support.fake_nominatim import NOWHERE, FakeNominatim
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.redis_server import RedisProcess

GEOCODE = "/api/v1/geocode"
TIMEOUT_SECONDS = 0.5  # GEOCODING_TIMEOUT_SECONDS


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    with FakeNominatim() as fake:
        yield fake


@pytest.fixture
def gateway(start_gateway: GatewayStarter, nominatim: FakeNominatim) -> LambdaGateway:
    return start_gateway(NOMINATIM_URL=nominatim.url, GEOCODING_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS))


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-a"])


def geocode(gateway: LambdaGateway, token: str | None, document: Any, **options: Any) -> ProxyResponse:
    body = document if isinstance(document, str) else json.dumps(document)
    return gateway.request(
        "POST", GEOCODE, token=token, body=body, headers={"content-type": "application/json"}, **options
    )


def found(response: ProxyResponse) -> dict[str, Any]:
    assert response.status == 200, response.raw
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


# --- answers ---------------------------------------------------------------------------------------
def test_an_address_is_answered_in_the_documented_shape(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim
) -> None:
    document = found(
        geocode(gateway, token, {"address": "Puerta del Sol 1, Madrid", "country_codes": ["ES"]})
    )

    assert document["query"] == {"address": "Puerta del Sol 1, Madrid", "country_codes": ["es"], "limit": 5}
    assert document["cached"] is False
    assert document["attribution"] == ATTRIBUTION
    (result,) = document["results"]
    assert result["display_name"].startswith("Puerta del Sol 1, Madrid")
    assert (result["latitude"], result["longitude"]) == (40.4168898, -3.7038261)
    assert result["address"]["postcode"] == "28013"
    assert result["bounding_box"] == [40.4163898, 40.4173898, -3.7043261, -3.7033261]
    assert set(result) == {
        "display_name", "latitude", "longitude", "category", "type", "importance",
        "osm_type", "osm_id", "address", "bounding_box",
    }  # fmt: skip


def test_nominatim_is_asked_for_jsonv2_with_address_details_and_a_descriptive_user_agent(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim
) -> None:
    found(geocode(gateway, token, {"address": "Sol", "country_codes": ["pt", "es"], "limit": 3}))

    (request,) = nominatim.requests
    assert request.path == "/search"
    assert request.parameters == {
        "format": "jsonv2",
        "addressdetails": "1",
        "limit": "3",
        "q": "Sol",
        "countrycodes": "es,pt",
    }
    assert request.headers["user-agent"] == DEFAULT_GEOCODING_USER_AGENT
    assert "accept-language" not in request.headers


def test_the_language_travels_as_accept_language_and_the_agent_is_configurable(
    start_gateway: GatewayStarter, token: str, nominatim: FakeNominatim
) -> None:
    gateway = start_gateway(
        NOMINATIM_URL=nominatim.url, GEOCODING_USER_AGENT="obrador-maps/2 (ops@obrador.es)"
    )

    found(geocode(gateway, token, {"city": "Sevilla", "country": "Spain", "language": "es-es"}))

    (request,) = nominatim.requests
    assert request.headers["accept-language"] == "es-ES"
    assert request.headers["user-agent"] == "obrador-maps/2 (ops@obrador.es)"
    assert (request.parameters["city"], request.parameters["country"]) == ("Sevilla", "Spain")


def test_no_place_found_is_an_empty_result_list(gateway: LambdaGateway, token: str) -> None:
    assert found(geocode(gateway, token, {"address": NOWHERE}))["results"] == []


def test_the_rate_limit_headers_of_the_gateways_policies_come_with_the_answer(
    gateway: LambdaGateway, token: str
) -> None:
    response = geocode(gateway, token, {"address": "Sol"})

    found(response)
    assert "ratelimit" in response.headers


def test_requests_are_counted_under_the_route_template(
    gateway: LambdaGateway, token: str, metric: MetricReader
) -> None:
    labels = {"method": "POST", "path": GEOCODE, "status_code": "200"}
    before = metric("gateway_requests_total", **labels)

    found(geocode(gateway, token, {"address": "Sol"}))

    assert metric("gateway_requests_total", **labels) == before + 1


# --- the cache ----------------------------------------------------------------------------------------
def test_a_repeated_lookup_is_answered_from_the_cache_without_asking_nominatim(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim
) -> None:
    first = found(geocode(gateway, token, {"address": "Calle Mayor 1, Madrid"}))

    again = found(geocode(gateway, token, {"address": "  calle mayor 1,   MADRID "}))

    assert again["cached"] is True
    assert again["results"] == first["results"]
    assert again["query"]["address"] == "calle mayor 1, MADRID"
    assert len(nominatim.requests) == 1


def test_a_cache_hit_takes_no_rate_slot(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim, redis_client: redis.Redis
) -> None:
    found(geocode(gateway, token, {"address": "Sol"}))
    redis_client.set(redis_keyspace.GEOCODE_SLOT_KEY, "other-container", px=10_000)

    started = time.perf_counter()
    document = found(geocode(gateway, token, {"address": "Sol"}))

    assert document["cached"] is True
    assert time.perf_counter() - started < 0.5
    assert redis_client.get(redis_keyspace.GEOCODE_SLOT_KEY) == "other-container"


def test_answers_are_cached_for_geocoding_cache_seconds(
    start_gateway: GatewayStarter, token: str, nominatim: FakeNominatim, redis_client: redis.Redis
) -> None:
    gateway = start_gateway(NOMINATIM_URL=nominatim.url, GEOCODING_CACHE_SECONDS="120")

    found(geocode(gateway, token, {"address": NOWHERE}))

    (key,) = redis_client.keys(redis_keyspace.GEOCODE_RESULT_PREFIX + "*")
    assert 110 < redis_client.ttl(key) <= 120


# --- refusals -----------------------------------------------------------------------------------------
def test_an_invalid_request_is_a_400_naming_each_field_and_asks_nobody(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim
) -> None:
    response = geocode(gateway, token, {"address": "Sol", "city": "Madrid", "limit": 50, "language": 7})

    problem = assert_problem(response, 400, "invalid-geocode-request")
    assert {param["name"] for param in problem["invalid_params"]} == {"address", "limit", "language"}
    assert nominatim.requests == []


def test_a_body_that_is_not_json_is_a_400(gateway: LambdaGateway, token: str) -> None:
    problem = assert_problem(geocode(gateway, token, "city=Madrid"), 400, "invalid-geocode-request")

    assert problem["invalid_params"] == [{"name": "body", "reason": "must be a JSON object"}]


def test_a_caller_without_a_token_is_a_401(gateway: LambdaGateway, nominatim: FakeNominatim) -> None:
    # API Gateway answers 401 itself (no identity source); the proxy fails closed on its own too.
    response = geocode(gateway, None, {"address": "Sol"}, without_authorizer=True)

    assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert nominatim.requests == []


def test_an_expired_token_is_a_401(gateway: LambdaGateway, dev_keys: DevKeyPair) -> None:
    expired = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", now=time.time() - 7200, ttl_seconds=3600)

    assert_problem(geocode(gateway, expired, {"address": "Sol"}), 401, "invalid-token")


def test_the_gateways_rate_limits_apply(
    start_gateway: GatewayStarter, token: str, nominatim: FakeNominatim
) -> None:
    gateway = start_gateway(NOMINATIM_URL=nominatim.url, RATE_LIMIT_REQUESTS="1")
    found(geocode(gateway, token, {"address": "Sol"}))

    response = geocode(gateway, token, {"address": "Sol"})

    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) >= 1


# --- Nominatim failing ----------------------------------------------------------------------------------
def test_nominatim_too_slow_is_a_504(gateway: LambdaGateway, token: str, nominatim: FakeNominatim) -> None:
    nominatim.be_slow(TIMEOUT_SECONDS * 4)

    started = time.perf_counter()
    response = geocode(gateway, token, {"address": "Sol"})

    assert_problem(response, 504, "service-timeout")
    assert time.perf_counter() - started < TIMEOUT_SECONDS + 0.5


def test_a_nominatim_server_error_is_a_502(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim
) -> None:
    nominatim.reply(500, b'{"error": "internal"}')

    assert_problem(geocode(gateway, token, {"address": "Sol"}), 502, "bad-gateway")


@pytest.mark.parametrize("body", [b"<html>Bad Gateway</html>", b'{"error": "Unable to geocode"}', b"[{}]"])
def test_an_answer_that_is_not_results_is_a_502(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim, body: bytes
) -> None:
    nominatim.reply(200, body)

    assert_problem(geocode(gateway, token, {"address": "Sol"}), 502, "bad-gateway")


def test_a_failed_lookup_is_not_cached(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim, redis_client: redis.Redis
) -> None:
    nominatim.reply(500)

    assert_problem(geocode(gateway, token, {"address": "Sol"}), 502, "bad-gateway")

    assert redis_client.keys(redis_keyspace.GEOCODE_RESULT_PREFIX + "*") == []


def test_nominatim_unreachable_is_a_503(start_gateway: GatewayStarter, token: str, closed_port: int) -> None:
    gateway = start_gateway(NOMINATIM_URL=f"http://127.0.0.1:{closed_port}")

    assert_problem(geocode(gateway, token, {"address": "Sol"}), 503, "service-unavailable")


def test_a_429_from_nominatim_is_a_503_with_its_retry_after_and_holds_back_every_container(
    gateway: LambdaGateway, token: str, nominatim: FakeNominatim, redis_client: redis.Redis
) -> None:
    nominatim.reply(429, b"Too many requests", headers=(("Retry-After", "7"),))

    response = geocode(gateway, token, {"address": "Sol"})

    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "7"
    assert 6000 < redis_client.pttl(redis_keyspace.GEOCODE_SLOT_KEY) <= 7000
    later = geocode(gateway, token, {"address": "Gran Vía"})
    assert_problem(later, 503, "geocoding-busy")
    assert len(nominatim.requests) == 1


# --- Redis down -----------------------------------------------------------------------------------------
def test_without_redis_geocoding_is_a_503_state_unavailable(
    start_private_gateway: GatewayStarter,
    private_redis: RedisProcess,
    token: str,
    nominatim: FakeNominatim,
    tmp_path: Path,
) -> None:
    gateway = start_private_gateway(NOMINATIM_URL=nominatim.url, REDIS_TIMEOUT_SECONDS="0.3")
    found(geocode(gateway, token, {"address": "Sol"}))  # the tenant's policy state is now known
    private_redis.stop()

    response = geocode(gateway, token, {"address": "Gran Vía"})

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"] == "5"
    assert len(nominatim.requests) == 1
