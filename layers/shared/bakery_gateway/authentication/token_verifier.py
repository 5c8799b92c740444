"""Verification of RS256 (and other asymmetric) access tokens, per the brief's token contract.

Compact JWS tokens (RFC 7515) are verified with ``cryptography`` directly, then their claims checked
as PyJWT checked them: PyJWT's ``jwt.decode`` re-parsed and re-checked each segment in Python and
cost ~3.8x the bare RSA verify on a claims-cache miss (bench/README.md, authorizer).
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bakery_gateway import bounded_json
from bakery_gateway.api.demo import VALID_DEMO_ACCOUNT_TYPES, parse_demo_account_type
from bakery_gateway.api.identity import Identity
from bakery_gateway.authentication.public_keys import DEFAULT_KEY_ID
from bakery_gateway.errors import DemoAccountTypeRefusedError, InvalidTokenError, JsonInputError
from bakery_gateway.settings import JwtSettings

# Far above any real access token, far below API Gateway's 10 KB header limit: a cheap early refusal.
MAX_TOKEN_LENGTH = 8192
# JWS compact form (RFC 7515 §7.1): three unpadded base64url segments. Padding "=" would give one
# token many spellings, e.g. a signature with "==" appended.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti", "type")
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
# Parsed JOSE headers, by their exact base64url segment: an issuer signs with a few headers (one per
# kid), so a handful of entries serve every token. Only headers under a valid signature are stored.
HEADER_CACHE_SIZE: Final = 16

# A segment's last character carries unused low bits when its length is not a multiple of 4; they
# must be zero, or one byte string would have several spellings (RFC 4648 §3.5, as PyJWT refuses).
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")

_HASHES: Final[Mapping[str, hashes.HashAlgorithm]] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}
# RFC 7518 §3.4: each ES* algorithm names its curve, and r and s are sent as fixed-size big-endian
# integers of the curve's size.
_CURVES: Final[Mapping[str, tuple[type[ec.EllipticCurve], int]]] = {
    "256": (ec.SECP256R1, 32),
    "384": (ec.SECP384R1, 48),
    "512": (ec.SECP521R1, 66),
}

# Verifies a signature over the signing input; raises InvalidSignature when it does not.
SignatureCheck = Callable[[bytes, bytes], None]


class TokenVerifier:
    """Verifies access tokens against a fixed set of public keys, chosen by ``kid``."""

    def __init__(
        self, keys: Mapping[str, Any], settings: JwtSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._algorithms = tuple(settings.algorithms)
        # Each key with a check per accepted algorithm that suits it: an RSA key never verifies an
        # ES* token nor an EC key an RS* or PS* one, and no key verifies HS* or "none".
        self._keys: dict[str, dict[str, SignatureCheck]] = {
            kid: _signature_checks(key, self._algorithms) for kid, key in keys.items()
        }
        self._settings = settings
        self._leeway = settings.leeway_seconds
        self._clock = clock
        self._headers: dict[str, tuple[str, str | None]] = {}

    @property
    def leeway_seconds(self) -> int:
        return self._settings.leeway_seconds

    def verify(self, token: str) -> Identity:
        """The identity a valid access token carries; ``InvalidTokenError`` for any other token."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("token too long")
        if _COMPACT_JWS.fullmatch(token) is None:
            raise InvalidTokenError("token malformed")
        header_segment, payload_segment, signature_segment = token.split(".")
        header = self._headers.get(header_segment)
        cached = header is not None
        if header is None:
            header = _parse_header(header_segment)
        algorithm, kid = header
        if algorithm not in self._algorithms:
            raise InvalidTokenError("token algorithm not accepted")
        check = self._key_for(kid).get(algorithm)
        if check is None:  # the key's type does not suit the algorithm
            raise InvalidTokenError("token algorithm not accepted")
        if not (_canonical(payload_segment) and _canonical(signature_segment)):
            raise InvalidTokenError("token malformed")
        try:
            check(_decode_segment(signature_segment), token[: -len(signature_segment) - 1].encode())
        except InvalidSignature:
            raise InvalidTokenError("token signature invalid") from None
        if not cached:  # signed by a trusted key: a header the issuer uses, not an attacker's junk
            if len(self._headers) >= HEADER_CACHE_SIZE:
                self._headers.clear()
            self._headers[header_segment] = header
        claims = _segment_json(payload_segment)
        if not isinstance(claims, dict):
            raise InvalidTokenError("token malformed")
        self._check_claims(claims)
        return self._identity(claims)

    def _key_for(self, kid: object) -> dict[str, SignatureCheck]:
        if kid is None:
            key = self._keys.get(DEFAULT_KEY_ID)
            if key is None and len(self._keys) == 1:
                key = next(iter(self._keys.values()))
        elif isinstance(kid, str):
            key = self._keys.get(kid)
            if key is None and list(self._keys) == [DEFAULT_KEY_ID]:
                key = self._keys[DEFAULT_KEY_ID]  # one PEM key verifies whatever kid a token names
        else:
            key = None
        if key is None:
            raise InvalidTokenError("token signed with an unknown key")
        return key

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """PyJWT's registered-claim checks (RFC 7519 §4.1), in its order, by the verifier's clock.

        Stricter in one way: a date claim must be a JSON number (PyJWT took "123" and true too).
        """
        for claim in REQUIRED_CLAIMS:
            if claims.get(claim) is None:  # a null claim is as absent as a missing one
                raise InvalidTokenError(f"token lacks the {claim} claim")
        now, leeway = self._clock(), self._leeway
        _number(claims["iat"])  # that it lies in the past is _identity's check
        if "nbf" in claims and _number(claims["nbf"]) > now + leeway:
            raise InvalidTokenError("token not yet valid")
        if _number(claims["exp"]) <= now - leeway:
            raise InvalidTokenError("token expired")
        issuer = self._settings.issuer
        if issuer is not None:
            if "iss" not in claims:
                raise InvalidTokenError("token lacks the iss claim")
            if claims["iss"] != issuer:
                raise InvalidTokenError("token issuer not accepted")
        audience = self._settings.audience
        if audience is not None:
            audiences = claims.get("aud")
            if not audiences:
                raise InvalidTokenError("token lacks the aud claim")
            if isinstance(audiences, str):
                audiences = [audiences]
            if (
                not isinstance(audiences, list)
                or not all(isinstance(item, str) for item in audiences)
                or audience not in audiences
            ):
                raise InvalidTokenError("token audience not accepted")
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise InvalidTokenError("token malformed")

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        if claims.get("type") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("not an access token")
        # _check_claims checks iat is a number, not that it lies in the past.
        if int(claims["iat"]) > self._clock() + self._settings.leeway_seconds:
            raise InvalidTokenError("token issued in the future")
        user_id, jti = claims["sub"], claims["jti"]
        if not isinstance(user_id, str) or not user_id or not isinstance(jti, str) or not jti:
            raise InvalidTokenError("token subject or id malformed")
        tenant_id = claims.get("tenant_id")
        tenant_ids = _string_list(claims.get("tenant_ids"), "tenant_ids")
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise InvalidTokenError("token tenant_id malformed")
        if tenant_id and tenant_id not in tenant_ids:
            tenant_ids = (tenant_id, *tenant_ids)
        demo_session_id = None
        demo_account_type = None
        if claims.get("is_demo") is True:
            demo_session_id = claims.get("demo_session_id")
            if not isinstance(demo_session_id, str) or not demo_session_id:
                raise InvalidTokenError("demo token lacks demo_session_id")
            demo_account_type = parse_demo_account_type(claims.get("demo_account_type"))
            if demo_account_type is None:
                raise DemoAccountTypeRefusedError(
                    f"demo_account_type must be one of {', '.join(VALID_DEMO_ACCOUNT_TYPES)}"
                )
        return Identity(
            user_id=user_id,
            tenant_id=tenant_id or None,
            tenant_ids=tenant_ids,
            roles=_string_list(claims.get("roles"), "roles"),
            jti=jti,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            demo_session_id=demo_session_id,
            demo_account_type=demo_account_type,
        )


def _string_list(value: object, claim: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidTokenError(f"token {claim} claim malformed")
    return tuple(value)


def _signature_checks(key: Any, algorithms: tuple[str, ...]) -> dict[str, SignatureCheck]:
    """A signature check for each of ``algorithms`` that suits ``key`` (RFC 7518 §3.1)."""
    checks = {}
    for algorithm in algorithms:
        check = _signature_check(key, algorithm)
        if check is not None:
            checks[algorithm] = check
    return checks


def _signature_check(key: Any, algorithm: str) -> SignatureCheck | None:
    family, size = algorithm[:2], algorithm[2:]
    digest = _HASHES.get(size)
    if digest is None:
        return None
    if family in ("RS", "PS") and isinstance(key, rsa.RSAPublicKey):
        rsa_key = key
        # RFC 7518 §3.5: PSS with MGF1 on the same hash, and a salt as long as the digest.
        scheme: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if family == "RS"
            else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        )

        def rsa_check(signature: bytes, signed: bytes) -> None:
            rsa_key.verify(signature, signed, scheme, digest)

        return rsa_check
    curve, half = _CURVES[size]
    if family == "ES" and isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, curve):
        ec_key, ecdsa = key, ec.ECDSA(digest)

        def ec_check(signature: bytes, signed: bytes) -> None:
            if len(signature) != 2 * half:  # r || s, each exactly the curve's size
                raise InvalidSignature
            r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            ec_key.verify(encode_dss_signature(r, s), signed, ecdsa)

        return ec_check
    return None


def _parse_header(segment: str) -> tuple[str, str | None]:
    """The JOSE header's ``alg`` ("" unless a string) and ``kid``; ``InvalidTokenError`` when malformed."""
    if not _canonical(segment):
        raise InvalidTokenError("token malformed")
    header = _segment_json(segment)
    if not isinstance(header, dict) or not isinstance(header.get("kid", ""), str):
        raise InvalidTokenError("token malformed")
    # RFC 7797's unencoded payload ("b64": false) is not supported, and a critical extension not
    # understood must be refused (RFC 7515 §4.1.11): "b64" is the only one there is to understand.
    if header.get("b64") is False:
        raise InvalidTokenError("token malformed")
    if "crit" in header:
        crit = header["crit"]
        if (
            not isinstance(crit, list)
            or not crit
            or any(name != "b64" for name in crit)
            or "b64" not in header
        ):
            raise InvalidTokenError("token malformed")
    algorithm = header.get("alg")
    return (algorithm if isinstance(algorithm, str) else ""), header.get("kid")


def _segment_json(segment: str) -> Any:
    """A header or payload segment's JSON (UTF-8 only, RFC 7519 §7.2), read within bounded_json's
    limits; ``InvalidTokenError`` when it is not."""
    try:
        return bounded_json.loads(_decode_segment(segment), max_bytes=bounded_json.TOKEN_SEGMENT_BYTES)
    except JsonInputError:
        raise InvalidTokenError("token malformed") from None


def _canonical(segment: str) -> bool:
    """Whether the (alphabet-checked) base64url ``segment`` is the only spelling of its bytes."""
    remainder = len(segment) % 4
    return remainder == 0 or (remainder != 1 and segment[-1] in _CANONICAL_LAST[remainder])


def _decode_segment(segment: str) -> bytes:
    """The bytes of a base64url segment already matched by ``_COMPACT_JWS`` and ``_canonical``."""
    # base64.urlsafe_b64decode's checks and conversions, minus those the regex made pointless
    return binascii.a2b_base64((segment + "=" * (-len(segment) % 4)).encode().translate(_FROM_URLSAFE))


def _number(value: object) -> int:
    """A NumericDate claim, truncated to whole seconds as PyJWT did; ``InvalidTokenError`` if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError("token malformed")
    try:
        return int(value)
    except (ValueError, OverflowError):  # NaN, infinity
        raise InvalidTokenError("token malformed") from None
