"""The measured calls: (a) direct GET, (b) proxy handler and references; the authorizer arms."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from harness import (
    ECHO_PATH,
    REQUEST_PATH,
    RUN_ID,
    Harness,
    authorizer_event,
    info_into_devnull,
    proxy_event,
    request_logging_at_info,
)
from timing import Arm

# --- per-request measurements -------------------------------------------------------------------


def downstream_headers_of_proxy(
    harness: Harness, token: str, context: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The headers the proxy sends downstream for our event, echoed by the stub (host excluded)."""
    answer = harness.proxy.handler(proxy_event(token, context, ECHO_PATH), None)
    if answer["statusCode"] != 200:
        raise RuntimeError(f"the proxy answered {answer['statusCode']}: {answer.get('body')}")
    body = answer["body"]
    if answer.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return [(name, value) for name, value in json.loads(body) if name != "host"]


DIRECT, PROXY, PROXY_INFO = "a: direct httpx GET", "b: proxy handler", "b@INFO"
AUTH_MISS, AUTH_HIT = "authorizer, cache miss", "authorizer, cache hit"
VERIFY_ONLY, RSA_FLOOR = "TokenVerifier.verify (no Redis)", "floor: cryptography RSA verify"
REDIS_TRIP, LOOP_ONLY = "r: one async Redis EVALSHA", "l: run_until_complete(no-op)"


@dataclass(frozen=True)
class RequestSetup:
    arms: list[Arm]
    event: dict[str, Any]
    downstream_headers: list[tuple[str, str]]
    body_base64: bool  # whether the proxy's JSON answer came back base64-encoded


def proxy_arms(harness: Harness) -> RequestSetup:
    """(a) direct GET, (b) proxy handler, (b) at INFO; references: one Redis script call, an idle loop."""
    token = harness.mint()
    verdict = harness.authorize(token)
    if verdict["context"].get("authenticated") is not True:
        raise RuntimeError(f"the authorizer refused the bench token: {verdict['context']}")
    event = proxy_event(token, verdict["context"])
    headers = downstream_headers_of_proxy(harness, token, verdict["context"])
    url = harness.stub_url + REQUEST_PATH
    loop, client, handler = harness.loop, harness.client, harness.proxy.handler
    from bakery_gateway.clients.factories import async_redis_factory

    redis_client = async_redis_factory(harness.proxy.settings.redis)()
    script = redis_client.register_script("return redis.call('EXISTS', KEYS[1])")
    key = f"gw:bench:{RUN_ID}"

    def direct() -> bool:
        return loop.run_until_complete(client.get(url, headers=headers)).status_code == 200

    def through_proxy() -> bool:
        return bool(handler(event, None)["statusCode"] == 200)

    def redis_trip() -> bool:
        return bool(loop.run_until_complete(script(keys=[key])) == 0)

    def loop_only() -> bool:
        return loop.run_until_complete(asyncio.sleep(0)) is None

    arms = [
        Arm(DIRECT, direct),
        Arm(PROXY, through_proxy),
        Arm(PROXY_INFO, through_proxy, info_into_devnull),
        Arm(REDIS_TRIP, redis_trip),
        Arm(LOOP_ONLY, loop_only),
    ]
    body_base64 = bool(handler(event, None).get("isBase64Encoded"))
    return RequestSetup(arms, event, headers, body_base64)


def one_info_record(harness: Harness, event: dict[str, Any]) -> str:
    """The request log record the proxy writes at INFO for one call."""
    sink = io.StringIO()
    with request_logging_at_info(sink):
        harness.proxy.handler(event, None)
    return sink.getvalue().strip()


# --- authorizer measurements --------------------------------------------------------------------


def authorizer_arms(harness: Harness, iterations: int) -> list[Arm]:
    """Cache miss (a fresh token per call), cache hit (one token), the verifier alone, the bare RSA verify."""
    fresh = [harness.mint() for _ in range(iterations)]
    harness.tokens.extend(fresh)
    miss_events = iter([authorizer_event(token) for token in fresh])
    hit_token = harness.mint()
    harness.authorize(hit_token)  # stores its claims: every later call is a hit
    hit_event = authorizer_event(hit_token)
    floor_inputs = iter([_signature_parts(token) for token in fresh])
    verify_inputs = iter(fresh)
    verifier = _token_verifier(harness)
    public_key = serialization.load_pem_public_key(harness.keys.public_pem)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise RuntimeError("the dev key pair is not RSA")
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    handler = harness.authorizer.handler

    def miss() -> bool:
        return bool(handler(next(miss_events), None)["context"]["authenticated"] is True)

    def hit() -> bool:
        return bool(handler(hit_event, None)["context"]["authenticated"] is True)

    def verify_only() -> bool:
        return bool(verifier.verify(next(verify_inputs)).user_id)

    def floor() -> bool:
        signing_input, signature = next(floor_inputs)
        public_key.verify(signature, signing_input, pkcs1, sha256)
        return True

    return [
        Arm(AUTH_MISS, miss),
        Arm(AUTH_HIT, hit),
        Arm(VERIFY_ONLY, verify_only),
        Arm(RSA_FLOOR, floor),
    ]


def _token_verifier(harness: Harness) -> Any:
    """A verifier like the authorizer's, from the same settings: the verification without Redis."""
    from bakery_gateway.authentication.public_keys import load_public_keys
    from bakery_gateway.authentication.token_verifier import TokenVerifier

    settings = harness.proxy.settings
    return TokenVerifier(load_public_keys(settings.jwt), settings.jwt)


def _signature_parts(token: str) -> tuple[bytes, bytes]:
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
