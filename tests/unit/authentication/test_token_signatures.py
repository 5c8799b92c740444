"""TokenVerifier's own JWS verification: each RFC 7518 algorithm with its key type, nothing else.

Tokens are minted with PyJWT, an independent implementation of the same RFCs, or forged by hand
where PyJWT (rightly) refuses to write them.
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
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import HEADER_CACHE_SIZE, TokenVerifier
from bakery_gateway.errors import InvalidTokenError
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair

EC_KID, RSA_KID = "ec-1", "rsa-1"
CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "user-1", "exp": now + 600, "iat": now, "jti": "id-1", "type": "access", **changes}


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


@pytest.fixture(scope="module")
def ec_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    """A private key on each ES* algorithm's curve."""
    return {algorithm: ec.generate_private_key(curve) for algorithm, curve in CURVES.items()}


def verifier_for(public_keys: dict[str, str], *algorithms: str) -> TokenVerifier:
    """A verifier trusting ``public_keys`` (kid → PEM) for ``algorithms``."""
    keys = parse_key_material(json.dumps(public_keys), "JWT_PUBLIC_KEYS")
    return TokenVerifier(keys, JwtSettings(algorithms=algorithms))


def rsa_verifier(dev_keys: DevKeyPair, *algorithms: str) -> TokenVerifier:
    return verifier_for({RSA_KID: dev_keys.public_pem.decode()}, *algorithms)


def rsa_token(dev_keys: DevKeyPair, algorithm: str, **headers: Any) -> str:
    return jwt.encode(
        claims(), dev_keys.private_pem, algorithm=algorithm, headers={"kid": RSA_KID, **headers}
    )


def ec_token(key: ec.EllipticCurvePrivateKey, algorithm: str, kid: str = EC_KID) -> str:
    return jwt.encode(claims(), key, algorithm=algorithm, headers={"kid": kid})


def with_signature(token: str, signature: bytes) -> str:
    return f"{token.rsplit('.', 1)[0]}.{b64url(signature)}"


# --- accepted ------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_a_token_signed_with_an_rsa_algorithm_verifies(dev_keys: DevKeyPair, algorithm: str) -> None:
    verifier = rsa_verifier(dev_keys, algorithm)

    assert verifier.verify(rsa_token(dev_keys, algorithm)).user_id == "user-1"


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512"])
def test_a_token_signed_with_an_ecdsa_algorithm_verifies(
    ec_keys: dict[str, ec.EllipticCurvePrivateKey], algorithm: str
) -> None:
    verifier = verifier_for({EC_KID: pem(ec_keys[algorithm])}, algorithm)

    assert verifier.verify(ec_token(ec_keys[algorithm], algorithm)).user_id == "user-1"


def test_rsa_and_ec_keys_are_trusted_side_by_side_each_for_its_own_algorithms(
    dev_keys: DevKeyPair, ec_keys: dict[str, ec.EllipticCurvePrivateKey]
) -> None:
    keys = {RSA_KID: dev_keys.public_pem.decode(), EC_KID: pem(ec_keys["ES256"])}
    verifier = verifier_for(keys, "RS256", "PS256", "ES256")

    assert verifier.verify(rsa_token(dev_keys, "PS256")).user_id == "user-1"
    assert verifier.verify(ec_token(ec_keys["ES256"], "ES256")).user_id == "user-1"


# --- the key's type must suit the algorithm --------------------------------------------------------
def test_an_es256_token_naming_an_rsa_key_is_refused(
    dev_keys: DevKeyPair, ec_keys: dict[str, ec.EllipticCurvePrivateKey]
) -> None:
    verifier = rsa_verifier(dev_keys, "RS256", "ES256")

    with pytest.raises(InvalidTokenError, match="token algorithm not accepted"):
        verifier.verify(ec_token(ec_keys["ES256"], "ES256", kid=RSA_KID))


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_an_rsa_token_naming_an_ec_key_is_refused(
    dev_keys: DevKeyPair, ec_keys: dict[str, ec.EllipticCurvePrivateKey], algorithm: str
) -> None:
    verifier = verifier_for({EC_KID: pem(ec_keys["ES256"])}, "ES256", algorithm)

    with pytest.raises(InvalidTokenError, match="token algorithm not accepted"):
        verifier.verify(
            jwt.encode(claims(), dev_keys.private_pem, algorithm=algorithm, headers={"kid": EC_KID})
        )


def test_an_ecdsa_token_for_another_curve_than_the_keys_is_refused(
    ec_keys: dict[str, ec.EllipticCurvePrivateKey],
) -> None:
    # ES384 is P-384 with SHA-384 (RFC 7518 §3.4): a P-256 key never verifies it.
    verifier = verifier_for({EC_KID: pem(ec_keys["ES256"])}, "ES256", "ES384")

    with pytest.raises(InvalidTokenError, match="token algorithm not accepted"):
        verifier.verify(ec_token(ec_keys["ES384"], "ES384"))


@pytest.mark.parametrize("algorithm", ["HS256", "none", "None"])
def test_hmac_and_none_are_refused_even_by_settings_that_list_them(
    dev_keys: DevKeyPair, algorithm: str
) -> None:
    # JWT_ALGORITHM refuses them at start; the verifier does not rely on that: no key verifies them.
    verifier = rsa_verifier(dev_keys, "RS256", algorithm)
    header = {"alg": algorithm, "typ": "JWT", "kid": RSA_KID}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims()).encode())}"
    mac = hmac.new(dev_keys.public_pem, signing_input.encode(), hashlib.sha256).digest()

    with pytest.raises(InvalidTokenError, match="token algorithm not accepted"):
        verifier.verify(f"{signing_input}.{b64url(mac)}")


# --- signatures ----------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [32, 63, 65, 96])
def test_an_es256_signature_not_of_64_bytes_is_refused(
    ec_keys: dict[str, ec.EllipticCurvePrivateKey], length: int
) -> None:
    # r || s of P-256 is exactly 2 x 32 bytes, whatever the leading zeros of r and s.
    verifier = verifier_for({EC_KID: pem(ec_keys["ES256"])}, "ES256")
    token = ec_token(ec_keys["ES256"], "ES256")
    signature = unb64url(token.rsplit(".", 1)[1])
    resized = (signature + bytes(length))[:length]

    with pytest.raises(InvalidTokenError, match="token signature invalid"):
        verifier.verify(with_signature(token, resized))


def test_an_ecdsa_signature_in_der_form_is_refused(ec_keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    # JWS sends r || s (RFC 7518 §3.4); DER is what cryptography signs, and is not a JWS signature.
    key = ec_keys["ES256"]
    verifier = verifier_for({EC_KID: pem(key)}, "ES256")
    token = ec_token(key, "ES256")
    der = key.sign(token.rsplit(".", 1)[0].encode(), ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(der)  # a well-formed DER signature of the very signing input

    with pytest.raises(InvalidTokenError, match="token signature invalid"):
        verifier.verify(with_signature(token, der))


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256"])
def test_a_payload_changed_under_a_valid_signature_is_refused(
    dev_keys: DevKeyPair, ec_keys: dict[str, ec.EllipticCurvePrivateKey], algorithm: str
) -> None:
    keys = {RSA_KID: dev_keys.public_pem.decode(), EC_KID: pem(ec_keys["ES256"])}
    verifier = verifier_for(keys, algorithm)
    token = (
        ec_token(ec_keys[algorithm], algorithm) if algorithm == "ES256" else rsa_token(dev_keys, algorithm)
    )
    header, _, signature = token.split(".")
    promoted = b64url(json.dumps(claims(sub="attacker", roles=["admin"])).encode())

    with pytest.raises(InvalidTokenError, match="token signature invalid"):
        verifier.verify(f"{header}.{promoted}.{signature}")


def test_a_second_spelling_of_the_same_signature_is_refused(dev_keys: DevKeyPair) -> None:
    # A 256-byte signature is 342 base64url characters: the last one carries 4 unused bits, and
    # setting one of them spells the same bytes differently (RFC 4648 §3.5).
    token = rsa_token(dev_keys, "RS256")
    head, signature = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = signature[:-1] + alphabet[alphabet.index(signature[-1]) + 1]
    assert unb64url(respelled) == unb64url(signature)

    with pytest.raises(InvalidTokenError, match="token malformed"):
        rsa_verifier(dev_keys, "RS256").verify(f"{head}.{respelled}")


# --- headers -------------------------------------------------------------------------------------
def test_a_header_nested_past_the_json_parsers_depth_is_refused_as_malformed(dev_keys: DevKeyPair) -> None:
    token = f"{b64url(b'[' * 5000)}.{b64url(b'{}')}.{b64url(b'signature')}"

    with pytest.raises(InvalidTokenError, match="token malformed"):
        rsa_verifier(dev_keys, "RS256").verify(token)


@pytest.mark.parametrize(
    "header",
    [{"b64": False, "crit": ["b64"]}, {"crit": ["exp"], "exp": 1}, {"crit": []}, {"crit": ["b64"]}],
)
def test_an_unencoded_payload_or_a_critical_extension_not_understood_is_refused(
    dev_keys: DevKeyPair, header: dict[str, Any]
) -> None:
    token = rsa_token(dev_keys, "RS256", **header)

    with pytest.raises(InvalidTokenError, match="token malformed"):
        rsa_verifier(dev_keys, "RS256").verify(token)


def test_the_header_cache_holds_at_most_its_size_however_many_headers_are_signed(
    dev_keys: DevKeyPair,
) -> None:
    verifier = rsa_verifier(dev_keys, "RS256")

    for serial in range(3 * HEADER_CACHE_SIZE):
        assert verifier.verify(rsa_token(dev_keys, "RS256", serial=serial)).user_id == "user-1"

    assert 0 < len(verifier._headers) <= HEADER_CACHE_SIZE


def test_headers_under_an_invalid_signature_are_not_cached(dev_keys: DevKeyPair) -> None:
    # Anyone can write a header: only those of tokens the trusted key signed may take a cache entry.
    verifier = rsa_verifier(dev_keys, "RS256")

    for serial in range(HEADER_CACHE_SIZE):
        forged = with_signature(rsa_token(dev_keys, "RS256", serial=serial), bytes(256))
        with pytest.raises(InvalidTokenError, match="token signature invalid"):
            verifier.verify(forged)

    assert verifier._headers == {}


def test_a_cached_header_gives_the_same_answers_as_a_fresh_one(dev_keys: DevKeyPair) -> None:
    verifier = rsa_verifier(dev_keys, "RS256")
    token = rsa_token(dev_keys, "RS256")
    verifier.verify(token)  # caches its header

    with pytest.raises(InvalidTokenError, match="token signature invalid"):
        verifier.verify(with_signature(token, bytes(256)))
    assert verifier.verify(token).user_id == "user-1"
