"""``TokenVerifier`` against the library it replaced: PyJWT's ``jwt.decode``, on the same tokens.

The reference is the verifier as it was before the replacement (7a85130^): the same pre-checks
(length, compact form), the key chosen by ``kid`` by the same rule, then ``jwt.decode`` with the
options it used, then the same mapping of claims to an identity (``TokenVerifier._identity``, which
the replacement did not change). Each token, valid or broken in one or several ways, goes through
both; each is accepted by both with the same identity, or refused by both. The differences that
remain are deliberate, each named (docs/architecture.md, "Hand-written replacements"):

- a token that is not the only spelling of its bytes is refused: base64 padding (``==`` after a
  segment: PyJWT decodes it) or non-zero unused bits in a segment's last character;
- a date claim (``exp``, ``nbf``, ``iat``) must be a JSON number: PyJWT takes ``"1796589736"``
  and ``true``;
- a key that does not suit the token's algorithm is a refusal (PyJWT raises ``TypeError``, which
  the verifier with PyJWT let escape).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jwt.algorithms import get_default_algorithms

from bakery_gateway.api.identity import Identity
from bakery_gateway.authentication.public_keys import DEFAULT_KEY_ID, parse_key_material
from bakery_gateway.authentication.token_verifier import MAX_TOKEN_LENGTH, REQUIRED_CLAIMS, TokenVerifier
from bakery_gateway.errors import InvalidTokenError
from bakery_gateway.settings import JwtSettings

PROPERTY_SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LEEWAY = 30
ISSUER, AUDIENCE = "https://auth.bakery.example", "bakery-gateway"
COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
CANONICAL_LAST = {2: "AQgw", 3: "AEIMQUYcgkosw048"}


@dataclass(frozen=True)
class Signer:
    kid: str
    private: Any  # a cryptography private key

    def public_pem(self) -> str:
        public = self.private.public_key()
        return str(
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        )


@pytest.fixture(scope="module")
def signers() -> dict[str, Signer]:
    """The trusted RSA and EC keys, and a stranger's RSA key that claims the trusted RSA kid."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "rsa": Signer("rsa-1", rsa_key),
        "ec": Signer("ec-1", ec.generate_private_key(ec.SECP256R1())),
        "stranger": Signer("rsa-1", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: dict[str, Any], payload: bytes, signer: Signer) -> str:
    """A compact JWS whatever its header says; signed by ``signer`` as its ``alg`` says when it can."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    algorithm = header.get("alg")
    if algorithm in ("HS256",):  # keyed with the public key's PEM: the classic confusion attack
        signature = hmac.new(signer.public_pem().encode(), signing_input.encode(), hashlib.sha256).digest()
    elif isinstance(algorithm, str) and algorithm in get_default_algorithms() and algorithm != "none":
        try:
            signature = get_default_algorithms()[algorithm].sign(signing_input.encode(), signer.private)
        except (TypeError, ValueError, AttributeError):  # the key cannot make this algorithm
            signature = b"\x00" * 64
    else:
        signature = b""
    return f"{signing_input}.{b64url(signature) or 'AA'}"


# --- the reference: the verifier with PyJWT ------------------------------------------------------
def pyjwt_verify(
    token: str, keys: dict[str, Any], jwt_settings: JwtSettings, verifier: TokenVerifier
) -> Identity:
    """What the verifier did before the replacement; ``InvalidTokenError`` for every refusal."""
    if len(token) > MAX_TOKEN_LENGTH or COMPACT.fullmatch(token) is None:
        raise InvalidTokenError("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidTokenError("malformed") from None
    algorithm = header.get("alg")
    if algorithm not in jwt_settings.algorithms:
        raise InvalidTokenError("algorithm")
    key = key_for(header.get("kid"), keys)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_aud": jwt_settings.audience is not None,
                "verify_iss": jwt_settings.issuer is not None,
            },
            audience=jwt_settings.audience,
            issuer=jwt_settings.issuer,
            leeway=jwt_settings.leeway_seconds,
        )
    except (jwt.PyJWTError, TypeError):
        # TypeError: PyJWT's answer to a key that does not suit the algorithm (an RSA key named by an
        # ES256 token). Not one of its errors: the verifier with PyJWT let it escape (a 500); now a 401.
        raise InvalidTokenError("refused by PyJWT") from None
    return verifier._identity(claims)


def key_for(kid: object, keys: dict[str, Any]) -> Any:
    """The verifier's rule, before and after: the kid's key; a kid-less token takes the only key."""
    if kid is None:
        key = keys.get(DEFAULT_KEY_ID) or (next(iter(keys.values())) if len(keys) == 1 else None)
    elif isinstance(kid, str):
        key = keys.get(kid)
        if key is None and list(keys) == [DEFAULT_KEY_ID]:
            key = keys[DEFAULT_KEY_ID]
    else:
        key = None
    if key is None:
        raise InvalidTokenError("unknown key")
    return key


def outcome(verify: Any, token: str) -> Identity | str:
    try:
        return verify(token)  # type: ignore[no-any-return]
    except InvalidTokenError:
        return "refused"


def spelt_once(token: str) -> bool:
    """Whether each segment is the only base64url spelling of its bytes."""
    for segment in token.split("."):
        if "=" in segment:
            return False
        remainder = len(segment) % 4
        if remainder in CANONICAL_LAST and segment[-1] not in CANONICAL_LAST[remainder]:
            return False
    return True


def dates_are_numbers(token: str) -> bool:
    try:
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=" * 4).decode())
    except ValueError:
        return True
    return not isinstance(claims, dict) or all(
        isinstance(claims[name], int | float) and not isinstance(claims[name], bool)
        for name in ("exp", "nbf", "iat")
        if claims.get(name) is not None
    )


# --- the tokens ---------------------------------------------------------------------------------
@dataclass
class Draft:
    """A token before it is signed, valid for ``jwt_settings`` until defects are applied."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signer: str  # a key of ``signers``
    payload: bytes | None = None  # raw, instead of the claims as JSON
    mutation: str = ""  # of the signed token: flip, pad, truncate, long


ODD_VALUES: list[Any] = [None, "", "x", 5, 1.5, True, [], ["a"], {}]


def _set(target: str, name: str, value: Any) -> Any:
    def apply(draft: Draft) -> None:
        getattr(draft, target)[name] = value

    return apply


def _drop(name: str) -> Any:
    return lambda draft: draft.claims.pop(name, None)


def _field(name: str, value: Any) -> Any:
    return lambda draft: setattr(draft, name, value)


def _defect_families(now: int) -> list[list[Any]]:
    """Ways to break one thing, or change one thing that should not matter, family by family: a
    family is drawn first, so that each kind of fault is tried about as often as the others."""
    edges = [-3600, -LEEWAY - 10, -LEEWAY + 10, LEEWAY - 10, LEEWAY + 10]  # 10 s off: two clocks
    return [
        [_drop(name) for name in REQUIRED_CLAIMS],
        [_set("claims", name, value) for name in REQUIRED_CLAIMS for value in ODD_VALUES],
        [_set("claims", name, now + offset) for name in ("exp", "iat", "nbf") for offset in edges],
        [_set("claims", name, value) for name in ("exp", "iat", "nbf") for value in (str(now), True, None)],
        [_set("claims", "iss", value) for value in ("https://evil.example", 5, ISSUER)] + [_drop("iss")],
        [_set("claims", "aud", value) for value in ("other", ["other"], [AUDIENCE, "x"], [5], AUDIENCE)]
        + [_drop("aud")],
        [_set("claims", "type", "refresh"), _set("claims", "sub", "josé"), _set("claims", "jti", "")]
        + [_set("claims", "tenant_id", value) for value in ("tenant-b", "", 5)]
        + [_set("claims", "tenant_ids", value) for value in ([], "tenant-a", [5], ["tenant-c"])]
        + [_set("claims", "roles", value) for value in ([], "owner", [5])],
        [
            _set("claims", "is_demo", True),
            _set("claims", "demo_session_id", ""),
            _set("claims", "demo_account_type", "central_baker"),
            _set("claims", "demo_account_type", "professional"),
        ],
        [_set("header", "alg", value) for value in ("HS256", "none", "RS384", "ES256", "PS256", "RS256", 5)],
        [_set("header", "kid", value) for value in (None, "unknown", 5, "ec-1", "rsa-1")],
        [_set("header", "crit", ["b64"]), _set("header", "b64", False), _set("header", "crit", ["exp"])],
        [_field("signer", name) for name in ("stranger", "ec", "rsa")],
        [_field("payload", raw) for raw in (b"[1]", b"null", b'{"sub": "\xe9"}', b"not json", b"{}")],
        [_field("mutation", name) for name in ("flip", "pad", "truncate", "long")],
    ]


@st.composite
def tokens(draw: st.DrawFn, signers: dict[str, Signer], jwt_settings: JwtSettings) -> str:
    """A token valid for ``jwt_settings``, then none, one or two defects."""
    now = int(time.time())
    signer = draw(st.sampled_from(["rsa", "ec"]))
    suitable = [
        name for name in jwt_settings.algorithms if name[:2] in (("ES",) if signer == "ec" else ("RS", "PS"))
    ]
    header: dict[str, Any] = {"alg": draw(st.sampled_from(suitable or ["RS256"])), "kid": signers[signer].kid}
    # The dates: valid most of the time, else just inside or outside the leeway (10 s off its edges:
    # PyJWT reads its own clock a moment after the verifier).
    edges = [-3600, -LEEWAY - 10, -LEEWAY + 10, LEEWAY - 10, LEEWAY + 10]
    claims: dict[str, Any] = {
        "sub": "user-1",
        "exp": now + draw(st.sampled_from([600] * 3 + edges)),
        "iat": now + draw(st.sampled_from([0] * 6 + edges[1:])),
        "jti": "token-1",
        "type": "access",
    }
    nbf = draw(st.sampled_from([None] * 3 + edges))
    if nbf is not None:
        claims["nbf"] = now + nbf
    claims.update(
        draw(st.sampled_from([{}, {"tenant_id": "tenant-a", "tenant_ids": ["tenant-a"], "roles": ["owner"]}]))
    )
    if jwt_settings.issuer:
        claims["iss"] = jwt_settings.issuer
    if jwt_settings.audience:
        claims["aud"] = jwt_settings.audience
    if draw(st.booleans()):
        claims.update(is_demo=True, demo_session_id="session-1", demo_account_type="enterprise")
    draft = Draft(header, claims, signer)
    families = _defect_families(now)
    for family in draw(st.lists(st.sampled_from(families), max_size=2)):
        draw(st.sampled_from(family))(draft)
    header = {name: value for name, value in draft.header.items() if value is not None}
    payload = draft.payload if draft.payload is not None else json.dumps(draft.claims).encode()
    head, body, signature = sign(header, payload, signers[draft.signer]).split(".")
    if draft.mutation == "flip":
        signature = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    elif draft.mutation == "pad":
        signature += "=="
    elif draft.mutation == "truncate":
        signature = signature[: len(signature) // 2]
    elif draft.mutation == "long":
        body = b64url(payload + b" " * MAX_TOKEN_LENGTH)
    return f"{head}.{body}.{signature}"


jwt_settings_strategy = st.builds(
    JwtSettings,
    algorithms=st.sampled_from(
        [("RS256",), ("RS256", "PS256", "ES256"), ("ES256",), ("RS256", "HS256", "none")]
    ),
    issuer=st.sampled_from([None, ISSUER]),
    audience=st.sampled_from([None, AUDIENCE]),
    leeway_seconds=st.just(LEEWAY),
)


@PROPERTY_SETTINGS
@given(data=st.data(), jwt_settings=jwt_settings_strategy)
def test_every_token_gets_the_outcome_pyjwt_gave_it(
    signers: dict[str, Signer], data: st.DataObject, jwt_settings: JwtSettings
) -> None:
    token = data.draw(tokens(signers, jwt_settings))
    keys = parse_key_material(
        json.dumps({"rsa-1": signers["rsa"].public_pem(), "ec-1": signers["ec"].public_pem()}),
        "JWT_PUBLIC_KEYS",
    )
    verifier = TokenVerifier(keys, jwt_settings)

    ours = outcome(verifier.verify, token)
    theirs = outcome(lambda token: pyjwt_verify(token, keys, jwt_settings, verifier), token)
    event(f"PyJWT: {'refused' if theirs == 'refused' else 'accepted'}")  # --hypothesis-show-statistics

    if theirs != "refused" and not (spelt_once(token) and dates_are_numbers(token)):
        assert ours == "refused"  # deliberate: one spelling per token, dates are numbers
    else:
        assert ours == theirs


def test_a_signature_spelt_with_padding_is_refused_where_pyjwt_accepted_it(
    signers: dict[str, Signer],
) -> None:
    keys = parse_key_material(json.dumps({"rsa-1": signers["rsa"].public_pem()}), "JWT_PUBLIC_KEYS")
    verifier = TokenVerifier(keys, JwtSettings())
    now = int(time.time())
    claims = {"sub": "user-1", "exp": now + 600, "iat": now, "jti": "token-1", "type": "access"}
    token = sign({"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims).encode(), signers["rsa"]) + "=="

    assert outcome(verifier.verify, token) == "refused"
    # PyJWT decodes it (the compact form the verifier checked first, with PyJWT too, refused it).
    assert isinstance(outcome(lambda t: jwt.decode(t, keys["rsa-1"], algorithms=["RS256"]), token), dict)


@pytest.mark.parametrize("as_sent", [str, lambda now: True], ids=["a-string", "true"])
def test_a_date_claim_that_is_not_a_number_is_refused_where_pyjwt_took_it(
    signers: dict[str, Signer], as_sent: Any
) -> None:
    keys = parse_key_material(json.dumps({"rsa-1": signers["rsa"].public_pem()}), "JWT_PUBLIC_KEYS")
    verifier = TokenVerifier(keys, JwtSettings())
    now = int(time.time())
    claims = {"sub": "user-1", "exp": now + 600, "iat": as_sent(now), "jti": "token-1", "type": "access"}
    token = sign({"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims).encode(), signers["rsa"])

    assert outcome(verifier.verify, token) == "refused"
    assert isinstance(outcome(lambda t: pyjwt_verify(t, keys, JwtSettings(), verifier), token), Identity)
