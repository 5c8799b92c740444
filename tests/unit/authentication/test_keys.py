"""Public keys: PEM, kid→PEM JSON or JWKS, parsed once; anything else refused at cold start."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import RSAAlgorithm

from bakery_gateway.authentication.public_keys import DEFAULT_KEY_ID, load_public_keys, parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair


def public_jwk(pair: DevKeyPair) -> dict[str, Any]:
    key = serialization.load_pem_public_key(pair.public_pem)
    assert isinstance(key, rsa.RSAPublicKey)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    return {**jwk, "kid": pair.key_id, "use": "sig", "alg": "RS256"}


def verifies(keys: dict[str, Any], pair: DevKeyPair) -> bool:
    """Whether ``keys`` verify a token that ``pair`` signed."""
    identity = TokenVerifier(keys, JwtSettings()).verify(pair.mint(user_id="user-1"))
    return identity.user_id == "user-1"


def test_a_pem_public_key_becomes_the_key_for_tokens_without_kid(dev_keys: DevKeyPair) -> None:
    keys = parse_key_material(dev_keys.public_pem.decode(), "JWT_PUBLIC_KEY")

    assert list(keys) == [DEFAULT_KEY_ID]
    assert isinstance(keys[DEFAULT_KEY_ID], rsa.RSAPublicKey)
    assert verifies(keys, dev_keys)


def test_a_pem_with_escaped_newlines_is_accepted(dev_keys: DevKeyPair) -> None:
    escaped = dev_keys.public_pem.decode().replace("\n", "\\n")

    keys = parse_key_material(escaped, "JWT_PUBLIC_KEY")

    assert verifies(keys, dev_keys)


def test_a_json_object_maps_each_kid_to_its_pem(dev_keys: DevKeyPair, second_dev_keys: DevKeyPair) -> None:
    material = json.dumps(
        {
            dev_keys.key_id: dev_keys.public_pem.decode(),
            second_dev_keys.key_id: second_dev_keys.public_pem.decode(),
        }
    )

    keys = parse_key_material(material, "JWT_PUBLIC_KEYS")

    assert set(keys) == {dev_keys.key_id, second_dev_keys.key_id}
    assert verifies(keys, dev_keys)
    assert verifies(keys, second_dev_keys)


def test_a_jwks_document_gives_each_key_under_its_kid(
    dev_keys: DevKeyPair, second_dev_keys: DevKeyPair
) -> None:
    material = json.dumps({"keys": [public_jwk(dev_keys), public_jwk(second_dev_keys)]})

    keys = parse_key_material(material, "JWT_PUBLIC_KEYS")

    assert set(keys) == {dev_keys.key_id, second_dev_keys.key_id}
    assert verifies(keys, dev_keys)
    assert verifies(keys, second_dev_keys)


def test_an_ec_public_key_is_accepted() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    keys = parse_key_material(pem.decode(), "JWT_PUBLIC_KEY")

    assert isinstance(keys[DEFAULT_KEY_ID], ec.EllipticCurvePublicKey)


def test_a_private_jwk_is_refused() -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(private_key)), "kid": "leaked"}
    assert "d" in jwk

    with pytest.raises(ConfigurationError, match=r"^JWT_PUBLIC_KEYS: key 0 is a private key"):
        parse_key_material(json.dumps({"keys": [jwk]}), "JWT_PUBLIC_KEYS")


def test_a_symmetric_jwk_is_refused() -> None:
    jwks = {"keys": [{"kty": "oct", "kid": "shared", "k": "c2VjcmV0"}]}

    with pytest.raises(ConfigurationError, match="not an RSA or EC JWK"):
        parse_key_material(json.dumps(jwks), "JWT_PUBLIC_KEYS")


def test_a_private_pem_is_refused(dev_keys: DevKeyPair) -> None:
    with pytest.raises(ConfigurationError, match=r"^JWT_PUBLIC_KEY: not a valid PEM public key"):
        parse_key_material(dev_keys.private_pem.decode(), "JWT_PUBLIC_KEY")


def test_an_ed25519_key_is_refused() -> None:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(ConfigurationError, match="only RSA and EC"):
        parse_key_material(pem.decode(), "JWT_PUBLIC_KEY")


@pytest.mark.parametrize(
    "material",
    [
        "not a key at all",
        "-----BEGIN PUBLIC KEY-----\nZ2FyYmFnZQ==\n-----END PUBLIC KEY-----",
        '{"bakery-dev-1": "not a pem"}',
        '{"bakery-dev-1": 42}',
        "[1, 2, 3]",
        '{"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB"}]}',
        '{"keys": ["a string"]}',
    ],
)
def test_garbage_key_material_is_refused_naming_its_source(material: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^JWT_PUBLIC_KEYS"):
        parse_key_material(material, "JWT_PUBLIC_KEYS")


def test_no_configured_key_is_a_configuration_error_naming_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="no JWT public key configured"):
        load_public_keys(JwtSettings())


def test_keys_from_several_settings_are_merged(dev_keys: DevKeyPair, second_dev_keys: DevKeyPair) -> None:
    jwt_settings = JwtSettings(
        public_key=dev_keys.public_pem.decode(), public_keys=second_dev_keys.public_keys_json
    )

    keys = load_public_keys(jwt_settings)

    assert set(keys) == {DEFAULT_KEY_ID, second_dev_keys.key_id}
