"""TokenVerifier: a valid RS256 access token becomes an Identity; every other token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from bakery_gateway.api.demo import DemoAccountType
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import MAX_TOKEN_LENGTH, TokenVerifier
from bakery_gateway.errors import InvalidTokenError
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair

VerifierFactory = Callable[..., TokenVerifier]


@pytest.fixture
def verifier_for(dev_keys: DevKeyPair) -> VerifierFactory:
    """A verifier trusting ``dev_keys`` (or the given key material), with these JwtSettings fields."""

    def build(material: str | None = None, **jwt_settings: Any) -> TokenVerifier:
        keys = parse_key_material(material or dev_keys.public_keys_json, "JWT_PUBLIC_KEYS")
        return TokenVerifier(keys, JwtSettings(**jwt_settings))

    return build


@pytest.fixture
def verifier(verifier_for: VerifierFactory) -> TokenVerifier:
    return verifier_for()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS built by hand, for the algorithms PyJWT (rightly) refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def valid_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


# --- accepted ------------------------------------------------------------------------------------
def test_a_valid_access_token_becomes_the_identity_it_carries(
    dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    token = dev_keys.mint(
        user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-b"], roles=["admin", "baker"]
    )

    identity = verifier.verify(token)

    assert identity.user_id == "user-1"
    assert identity.tenant_id == "tenant-a"
    assert identity.tenant_ids == ("tenant-a", "tenant-b")
    assert identity.roles == ("admin", "baker")
    assert identity.jti == valid_claims(token)["jti"]
    assert identity.expires_at == valid_claims(token)["exp"]
    assert identity.is_demo is False


def test_the_active_tenant_is_listed_once_in_tenant_ids(
    dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-b", "tenant-a"])

    assert verifier.verify(token).tenant_ids == ("tenant-b", "tenant-a")


def test_a_token_without_tenant_has_no_active_tenant(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    identity = verifier.verify(dev_keys.mint(user_id="user-1"))

    assert identity.tenant_id is None
    assert identity.tenant_ids == ()


@pytest.mark.parametrize("account_type", ["professional", "enterprise"])
def test_a_demo_token_with_a_valid_account_type_is_accepted(
    dev_keys: DevKeyPair, verifier: TokenVerifier, account_type: str
) -> None:
    token = dev_keys.mint(
        user_id="demo-user",
        tenant_id="demo-tenant",
        extra_claims={"is_demo": True, "demo_session_id": "session-1", "demo_account_type": account_type},
    )

    identity = verifier.verify(token)

    assert identity.is_demo
    assert identity.demo_session_id == "session-1"
    assert identity.demo_account_type is DemoAccountType(account_type)


def test_keys_are_chosen_by_kid_so_two_keys_can_be_trusted_during_a_rotation(
    dev_keys: DevKeyPair, second_dev_keys: DevKeyPair, verifier_for: VerifierFactory
) -> None:
    both = json.dumps(
        {
            dev_keys.key_id: dev_keys.public_pem.decode(),
            second_dev_keys.key_id: second_dev_keys.public_pem.decode(),
        }
    )
    verifier = verifier_for(both)

    assert verifier.verify(dev_keys.mint(user_id="signed-by-old")).user_id == "signed-by-old"
    assert verifier.verify(second_dev_keys.mint(user_id="signed-by-new")).user_id == "signed-by-new"


def test_a_single_pem_key_verifies_tokens_whatever_their_kid(
    dev_keys: DevKeyPair, verifier_for: VerifierFactory
) -> None:
    verifier = verifier_for(dev_keys.public_pem.decode())

    assert verifier.verify(dev_keys.mint(user_id="user-1")).user_id == "user-1"


def test_a_token_without_kid_uses_the_only_configured_key(
    dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    token = jwt.encode(valid_claims(dev_keys.mint(user_id="user-1")), dev_keys.private_pem, algorithm="RS256")

    assert verifier.verify(token).user_id == "user-1"


def test_expiry_within_the_leeway_is_accepted(dev_keys: DevKeyPair, verifier_for: VerifierFactory) -> None:
    token = dev_keys.mint(user_id="user-1", now=time.time() - 3610, ttl_seconds=3600)  # expired 10 s ago

    assert verifier_for(leeway_seconds=30).verify(token).user_id == "user-1"


def test_expiry_past_the_leeway_is_refused(dev_keys: DevKeyPair, verifier_for: VerifierFactory) -> None:
    token = dev_keys.mint(user_id="user-1", now=time.time() - 3610, ttl_seconds=3600)  # expired 10 s ago

    with pytest.raises(InvalidTokenError, match="expired"):
        verifier_for(leeway_seconds=5).verify(token)


def test_issuer_and_audience_are_accepted_when_they_match(
    dev_keys: DevKeyPair, verifier_for: VerifierFactory
) -> None:
    token = dev_keys.mint(
        user_id="user-1", extra_claims={"iss": "https://auth.bakery-ia.com", "aud": "gateway"}
    )

    identity = verifier_for(issuer="https://auth.bakery-ia.com", audience="gateway").verify(token)

    assert identity.user_id == "user-1"


# --- refused -------------------------------------------------------------------------------------
def test_an_expired_token_is_refused(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    token = dev_keys.mint(user_id="user-1", now=time.time() - 7200, ttl_seconds=3600)

    with pytest.raises(InvalidTokenError, match="expired"):
        verifier.verify(token)


def test_a_token_not_yet_valid_is_refused(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    token = dev_keys.mint(user_id="user-1", extra_claims={"nbf": int(time.time()) + 600})

    with pytest.raises(InvalidTokenError, match="not yet valid"):
        verifier.verify(token)


def test_a_token_issued_in_the_future_is_refused(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    token = dev_keys.mint(user_id="user-1", now=time.time() + 600)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_a_token_issued_in_the_future_by_the_verifiers_clock_is_refused(
    dev_keys: DevKeyPair, verifier_for: VerifierFactory
) -> None:
    # GIVEN a verifier whose clock runs an hour behind the token's issuer
    keys = parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS")
    verifier = TokenVerifier(keys, JwtSettings(), clock=lambda: time.time() - 3600)

    # THEN a token issued now is, for it, issued in the future
    with pytest.raises(InvalidTokenError, match="issued in the future"):
        verifier.verify(dev_keys.mint(user_id="user-1"))


def test_a_token_signed_with_another_key_under_a_trusted_kid_is_refused(
    dev_keys: DevKeyPair, second_dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    token = second_dev_keys.mint(user_id="user-1", headers={"kid": dev_keys.key_id})

    with pytest.raises(InvalidTokenError, match="signature"):
        verifier.verify(token)


def test_a_token_with_an_unknown_kid_is_refused(second_dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidTokenError, match="unknown key"):
        verifier.verify(second_dev_keys.mint(user_id="user-1"))


def test_a_token_without_kid_is_refused_when_several_keys_are_trusted(
    dev_keys: DevKeyPair, second_dev_keys: DevKeyPair, verifier_for: VerifierFactory
) -> None:
    both = json.dumps(
        {
            dev_keys.key_id: dev_keys.public_pem.decode(),
            second_dev_keys.key_id: second_dev_keys.public_pem.decode(),
        }
    )
    token = jwt.encode(valid_claims(dev_keys.mint(user_id="user-1")), dev_keys.private_pem, algorithm="RS256")

    with pytest.raises(InvalidTokenError, match="unknown key"):
        verifier_for(both).verify(token)


def test_an_unsigned_alg_none_token_is_refused(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    claims = valid_claims(dev_keys.mint(user_id="user-1"))
    token = forge({"alg": "none", "typ": "JWT", "kid": dev_keys.key_id}, claims, lambda _: b"")

    # No signature segment at all: refused as malformed before its algorithm is even read.
    with pytest.raises(InvalidTokenError, match="token malformed"):
        verifier.verify(token)


@pytest.mark.parametrize("kid_in_header", [True, False])
def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier, kid_in_header: bool
) -> None:
    # The classic algorithm confusion: the attacker knows the public key and uses it as an HMAC secret.
    claims = valid_claims(dev_keys.mint(user_id="attacker", roles=["admin"]))
    header = {"alg": "HS256", "typ": "JWT", **({"kid": dev_keys.key_id} if kid_in_header else {})}
    token = forge(header, claims, lambda data: hmac.new(dev_keys.public_pem, data, hashlib.sha256).digest())

    with pytest.raises(InvalidTokenError, match="algorithm not accepted"):
        verifier.verify(token)


def test_an_hs256_token_is_refused_even_when_only_its_algorithm_is_missing_from_the_settings(
    dev_keys: DevKeyPair, verifier_for: VerifierFactory
) -> None:
    # Even a verifier that accepts several asymmetric algorithms never verifies with HMAC.
    claims = valid_claims(dev_keys.mint(user_id="attacker"))
    token = forge(
        {"alg": "HS256", "kid": dev_keys.key_id},
        claims,
        lambda data: hmac.new(dev_keys.public_pem, data, hashlib.sha256).digest(),
    )

    with pytest.raises(InvalidTokenError):
        verifier_for(algorithms=("RS256", "PS256", "ES256")).verify(token)


def test_a_refresh_token_is_refused_as_an_access_token(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidTokenError, match="not an access token"):
        verifier.verify(dev_keys.mint(user_id="user-1", token_type="refresh"))


@pytest.mark.parametrize("claim", ["jti", "sub", "exp", "iat", "type"])
def test_a_token_lacking_a_required_claim_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier, claim: str
) -> None:
    claims = valid_claims(dev_keys.mint(user_id="user-1"))
    del claims[claim]
    token = jwt.encode(claims, dev_keys.private_pem, algorithm="RS256", headers={"kid": dev_keys.key_id})

    with pytest.raises(InvalidTokenError, match=f"lacks the {claim} claim"):
        verifier.verify(token)


def test_a_token_with_a_null_jti_is_refused(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidTokenError, match="jti"):
        verifier.verify(dev_keys.mint(user_id="user-1", extra_claims={"jti": None}))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "a.b.c",
        "a.b",
        "....",
        "Bearer abc.def.ghi",
        "eyJhbGciOiJSUzI1NiJ9.not-base64!.sig",
        b64url(b"[1,2]") + ".e30.c2ln",
    ],
)
def test_a_malformed_token_is_refused(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("exp", "4102444800"), ("exp", True), ("iat", "1"), ("iat", False), ("nbf", "0"), ("nbf", None)],
)
def test_a_date_claim_that_is_not_a_json_number_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier, claim: str, value: object
) -> None:
    # RFC 7519 §2: a NumericDate is a JSON number; a numeric string or a boolean is not one.
    with pytest.raises(InvalidTokenError, match="token malformed"):
        verifier.verify(dev_keys.mint(user_id="user-1", extra_claims={claim: value}))


def test_a_signed_payload_that_is_not_a_json_object_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    header = {"alg": "RS256", "kid": dev_keys.key_id}
    token = jwt.api_jws.encode(b"[1, 2]", dev_keys.private_pem, algorithm="RS256", headers=header)

    with pytest.raises(InvalidTokenError, match="token malformed"):
        verifier.verify(token)


def test_expiry_is_judged_by_the_verifiers_clock(dev_keys: DevKeyPair) -> None:
    keys = parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS")
    verifier = TokenVerifier(keys, JwtSettings(), clock=lambda: time.time() + 3600)

    with pytest.raises(InvalidTokenError, match="token expired"):
        verifier.verify(dev_keys.mint(user_id="user-1", ttl_seconds=1800))


def test_a_token_with_a_valid_header_but_garbage_payload_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    header, _, signature = dev_keys.mint(user_id="user-1").split(".")

    with pytest.raises(InvalidTokenError):
        verifier.verify(f"{header}.{b64url(b'not json')}.{signature}")


def test_a_token_over_8_kb_is_refused_before_any_parsing(
    dev_keys: DevKeyPair, verifier: TokenVerifier
) -> None:
    token = dev_keys.mint(user_id="user-1", extra_claims={"padding": "x" * MAX_TOKEN_LENGTH})
    assert len(token) > 8192

    with pytest.raises(InvalidTokenError, match="too long"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example", "aud": "gateway"}, "issuer"),
        ({"aud": "gateway"}, "iss"),
        ({"iss": "https://auth.bakery-ia.com", "aud": "another-api"}, "audience"),
        ({"iss": "https://auth.bakery-ia.com"}, "aud"),
    ],
)
def test_a_wrong_or_missing_issuer_or_audience_is_refused_when_configured(
    dev_keys: DevKeyPair, verifier_for: VerifierFactory, claims: dict[str, str], reason: str
) -> None:
    verifier = verifier_for(issuer="https://auth.bakery-ia.com", audience="gateway")

    with pytest.raises(InvalidTokenError, match=reason):
        verifier.verify(dev_keys.mint(user_id="user-1", extra_claims=claims))


@pytest.mark.parametrize(
    "old_name", ["individual_bakery", "professional_bakery", "central_baker", "enterprise_chain"]
)
def test_a_demo_token_with_an_old_account_type_name_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier, old_name: str
) -> None:
    token = dev_keys.mint(
        user_id="demo-user",
        extra_claims={"is_demo": True, "demo_session_id": "session-1", "demo_account_type": old_name},
    )

    with pytest.raises(InvalidTokenError, match="demo_account_type must be one of professional, enterprise"):
        verifier.verify(token)


def test_a_demo_token_without_a_session_is_refused(dev_keys: DevKeyPair, verifier: TokenVerifier) -> None:
    token = dev_keys.mint(
        user_id="demo-user", extra_claims={"is_demo": True, "demo_account_type": "professional"}
    )

    with pytest.raises(InvalidTokenError, match="demo_session_id"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("roles", "admin"), ("tenant_ids", [1, 2]), ("tenant_id", 7), ("sub", 42), ("jti", "")],
)
def test_a_token_with_a_malformed_claim_is_refused(
    dev_keys: DevKeyPair, verifier: TokenVerifier, claim: str, value: object
) -> None:
    with pytest.raises(InvalidTokenError):
        verifier.verify(dev_keys.mint(user_id="user-1", extra_claims={claim: value}))
