"""Forged, stale and malformed tokens: each is refused with a 401 problem and reaches no service.

Every case goes through the real authorizer and proxy handlers (``gateway``), so a defence removed
from either the verifier or the proxy's own checks fails its test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, assert_problem
from tests.support.stub_service import StubService

PATH = "/api/v1/sales/orders"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token put together by hand: any header, any claims, any signature."""
    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join([*(b64url(part) for part in parts), b64url(signature)])


def rs256(keys: DevKeyPair, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """An RS256 token signed by hand: PyJWT would refuse to write some of the headers sent here."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(keys.private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signing_input = unsigned({"alg": "RS256", "typ": "JWT", **header}, claims).rsplit(".", 1)[0]
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def assert_refused(gateway: LambdaGateway, stub: StubService, token: str) -> str:
    """The token gets a 401 invalid-token problem and no service hears of the request; the detail."""
    response = gateway.request("GET", PATH, token=token)
    problem = assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert stub.requests == []
    return str(problem["detail"])


def test_a_valid_token_is_forwarded(gateway: LambdaGateway, stub_service: StubService, token: str) -> None:
    """The control case: what every other test changes is the only reason for its refusal."""
    assert gateway.request("GET", PATH, token=token).status == 200
    assert stub_service.last_request.header("x-user-id") == "user-1"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(gateway: LambdaGateway, stub_service: StubService, token: str, alg: str) -> None:
    forged = unsigned({"alg": alg, "typ": "JWT", "kid": "bakery-dev-1"}, claims_of(token))

    assert assert_refused(gateway, stub_service, forged) == "token malformed"  # no signature at all


def test_alg_none_with_a_signature_is_refused(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    forged = unsigned({"alg": "none", "typ": "JWT", "kid": "bakery-dev-1"}, claims_of(token), b"sig")

    assert assert_refused(gateway, stub_service, forged) == "token algorithm not accepted"


def test_hmac_signed_with_the_rsa_public_key_is_refused(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair, token: str
) -> None:
    # The classic key-confusion forgery: the public PEM used as an HS256 secret.
    forged = unsigned({"alg": "HS256", "typ": "JWT", "kid": dev_keys.key_id}, claims_of(token))
    signing_input = forged.rsplit(".", 1)[0].encode()
    signature = hmac.new(dev_keys.public_pem, signing_input, hashlib.sha256).digest()
    forged = f"{signing_input.decode()}.{b64url(signature)}"

    assert assert_refused(gateway, stub_service, forged) == "token algorithm not accepted"


def test_a_token_signed_with_an_unknown_kid_is_refused(
    gateway: LambdaGateway, stub_service: StubService, second_dev_keys: DevKeyPair
) -> None:
    stranger = second_dev_keys.mint(user_id="intruder", tenant_id="tenant-a")

    assert assert_refused(gateway, stub_service, stranger) == "token signed with an unknown key"


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../dev/null",
        "/etc/passwd",
        "bakery-dev-1' OR '1'='1",
        "bakery-dev-1\x00",
        "bakery-dev-1/../bakery-dev-1",
        {"$ne": None},
        ["bakery-dev-1"],
    ],
)
def test_an_injected_kid_is_refused(
    gateway: LambdaGateway, stub_service: StubService, second_dev_keys: DevKeyPair, kid: object
) -> None:
    # Signed with a key the gateway does not know: only a kid lookup that escapes its key set could pass.
    claims = claims_of(second_dev_keys.mint(user_id="intruder", tenant_id="tenant-a"))

    detail = assert_refused(gateway, stub_service, rs256(second_dev_keys, {"kid": kid}, claims))

    assert detail in ("token signed with an unknown key", "token malformed")


def test_an_expired_token_is_refused(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    expired = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", now=time.time() - 7200, ttl_seconds=3600)

    assert assert_refused(gateway, stub_service, expired) == "token expired"


def test_a_token_not_valid_yet_is_refused(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    early = dev_keys.mint(
        user_id="user-1", tenant_id="tenant-a", extra_claims={"nbf": int(time.time()) + 3600}
    )

    assert assert_refused(gateway, stub_service, early) == "token not yet valid"


def test_a_token_issued_in_the_future_is_refused(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    future = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", now=time.time() + 3600)

    assert assert_refused(gateway, stub_service, future) in (
        "token not yet valid",
        "token issued in the future",
    )


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"iss": "https://evil.example", "aud": "bakery-gateway"}, "token issuer not accepted"),
        ({"iss": "https://auth.bakery.example", "aud": "another-api"}, "token audience not accepted"),
        ({"aud": "bakery-gateway"}, "token lacks the iss claim"),
        ({"iss": "https://auth.bakery.example"}, "token lacks the aud claim"),
    ],
)
def test_a_wrong_or_missing_issuer_or_audience_is_refused_when_configured(
    start_gateway: GatewayStarter,
    stub_service: StubService,
    dev_keys: DevKeyPair,
    claims: dict[str, str],
    detail: str,
) -> None:
    gateway = start_gateway(
        **{names.JWT_ISSUER: "https://auth.bakery.example", names.JWT_AUDIENCE: "bakery-gateway"}
    )
    forged = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", extra_claims=claims)

    assert assert_refused(gateway, stub_service, forged) == detail


def test_a_refresh_token_is_not_an_access_token(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    refresh = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", token_type="refresh")

    assert assert_refused(gateway, stub_service, refresh) == "not an access token"


def test_a_token_without_a_type_is_refused(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair, token: str
) -> None:
    claims = claims_of(token)
    del claims["type"]
    typeless = rs256(dev_keys, {"kid": dev_keys.key_id}, claims)

    assert assert_refused(gateway, stub_service, typeless) == "token lacks the type claim"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda signature: signature[:-8], id="truncated"),
        pytest.param(lambda signature: signature[: len(signature) // 2], id="half"),
        pytest.param(lambda signature: signature + "AAAA", id="padded-with-data"),
        pytest.param(lambda signature: signature + "==", id="padded-with-equals"),
        pytest.param(lambda signature: "", id="stripped"),
    ],
)
def test_a_tampered_signature_is_refused(
    gateway: LambdaGateway, stub_service: StubService, token: str, tamper: Any
) -> None:
    head, signature = token.rsplit(".", 1)

    detail = assert_refused(gateway, stub_service, f"{head}.{tamper(signature)}")

    assert detail in ("token signature invalid", "token malformed")


def test_a_payload_changed_under_a_valid_signature_is_refused(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    header, _, signature = token.split(".")
    claims = {**claims_of(token), "tenant_ids": ["tenant-a", "tenant-b"], "roles": ["admin"]}

    forged = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"

    assert assert_refused(gateway, stub_service, forged) == "token signature invalid"


def test_a_huge_token_is_refused_before_it_is_parsed(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    huge = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", extra_claims={"padding": "x" * 64 * 1024})

    assert assert_refused(gateway, stub_service, huge) == "token too long"


@pytest.mark.parametrize(
    "garbage",
    [
        "not-a-token",
        "only.two-parts",
        "four.parts.in.token",
        "........",
        "eyJhbGciOiJSUzI1NiJ9.!!!!!.?????",
        "Bearer Bearer-token",
        "\u00e9\u00e9\u00e9.\u00e9\u00e9\u00e9.\u00e9\u00e9\u00e9",
    ],
)
def test_malformed_tokens_are_refused(
    gateway: LambdaGateway, stub_service: StubService, garbage: str
) -> None:
    response = gateway.request("GET", PATH, token=garbage)

    assert_problem(response, 401, "invalid-token")
    assert stub_service.requests == []
