"""The public keys that verify access tokens, from the environment, SSM or Secrets Manager.

Keys given in the function's environment (``JWT_PUBLIC_KEY``, ``JWT_PUBLIC_KEYS``) win: when either is
set, no SSM parameter or secret is read, even though the template names one by default
(``JwtPublicKeysSsmParameter``). A value set explicitly is what its setter means, and a stored source
named by a default may not exist where the function runs (``sam local``, a test, a new account).
Otherwise the keys of the SSM parameter and of the secret, when both are named, are trusted together.

Accepted forms, wherever the keys come from:
- one PEM public key (used for tokens without a ``kid``, and for any ``kid`` when it is the only key);
- a JSON object mapping each ``kid`` to a PEM public key;
- a JWKS document (``{"keys": [...]}``), each key with its ``kid``.
Keys are parsed once, at cold start: verifying with a parsed key object skips PEM parsing per token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError, KeySourceError
from bakery_gateway.settings import JwtSettings
from bakery_gateway.telemetry.observability import logger

DEFAULT_KEY_ID = ""  # the key for tokens that name no kid
# An unreachable key source must fail the cold start well inside Lambda's 10 s init, not hang in
# botocore's defaults (60 s per connect and read, several attempts): see docs/resilience.md.
KEY_SOURCE_CONNECT_TIMEOUT_SECONDS: Final = 1
KEY_SOURCE_READ_TIMEOUT_SECONDS: Final = 2
KEY_SOURCE_ATTEMPTS: Final = 2


def load_public_keys(jwt: JwtSettings, *, attempts: int = KEY_SOURCE_ATTEMPTS) -> dict[str, Any]:
    """Every configured public key, by ``kid`` (``DEFAULT_KEY_ID`` for the kid-less key): the
    environment's when it has any, else the stored sources' (``attempts`` per source)."""
    keys: dict[str, Any] = {}
    if jwt.public_key:
        keys.update(parse_key_material(jwt.public_key, names.JWT_PUBLIC_KEY))
    if jwt.public_keys:
        keys.update(parse_key_material(jwt.public_keys, names.JWT_PUBLIC_KEYS))
    if keys:
        _note_unread_sources(jwt)
        return keys
    if jwt.ssm_parameter:
        material = _read_ssm_parameter(jwt.ssm_parameter, attempts)
        keys.update(parse_key_material(material, names.JWT_PUBLIC_KEYS_SSM_PARAMETER))
    if jwt.secret_id:
        material = _read_secret(jwt.secret_id, attempts)
        keys.update(parse_key_material(material, names.JWT_PUBLIC_KEYS_SECRET_ID))
    if not keys:
        raise ConfigurationError(
            f"no JWT public key configured: set {names.JWT_PUBLIC_KEY}, {names.JWT_PUBLIC_KEYS}, "
            f"{names.JWT_PUBLIC_KEYS_SSM_PARAMETER} or {names.JWT_PUBLIC_KEYS_SECRET_ID}"
        )
    return keys


def _note_unread_sources(jwt: JwtSettings) -> None:
    unread = [
        variable
        for variable, value in (
            (names.JWT_PUBLIC_KEYS_SSM_PARAMETER, jwt.ssm_parameter),
            (names.JWT_PUBLIC_KEYS_SECRET_ID, jwt.secret_id),
        )
        if value
    ]
    if unread:
        logger.info(
            "JWT public keys from the environment; stored sources not read",
            extra={"not_read": unread},
        )


def parse_key_material(material: str, source: str) -> dict[str, Any]:
    """Parse one source's key material (PEM, kid→PEM JSON object, or JWKS); ``source`` names it in errors."""
    text = material.strip()
    if text.startswith("-----BEGIN"):
        # A PEM pasted into one environment variable line often arrives with escaped newlines.
        return {DEFAULT_KEY_ID: _load_pem(text.replace("\\n", "\n"), source)}
    try:
        document = json.loads(text)
    except ValueError:
        raise ConfigurationError(f"{source}: neither a PEM public key nor JSON") from None
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        return _load_jwks(document["keys"], source)
    if isinstance(document, dict) and all(isinstance(value, str) for value in document.values()):
        return {
            str(kid): _load_pem(pem.replace("\\n", "\n"), f"{source}[{kid}]") for kid, pem in document.items()
        }
    raise ConfigurationError(f"{source}: JSON must map each kid to a PEM key, or be a JWKS")


def _load_pem(pem: str, source: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ConfigurationError(f"{source}: not a valid PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ConfigurationError(f"{source}: only RSA and EC public keys are accepted")
    return key


def _load_jwks(entries: list[Any], source: str) -> dict[str, Any]:
    from jwt import PyJWK
    from jwt.exceptions import PyJWTError

    keys: dict[str, Any] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or entry.get("kty") not in ("RSA", "EC"):
            raise ConfigurationError(f"{source}: key {position} is not an RSA or EC JWK")
        if "d" in entry:
            raise ConfigurationError(f"{source}: key {position} is a private key; give public keys only")
        try:
            jwk = PyJWK(dict(entry))
        except PyJWTError as error:  # PyJWKError, and InvalidKeyError for a malformed key
            raise ConfigurationError(f"{source}: key {position}: {error}") from None
        keys[str(entry.get("kid", DEFAULT_KEY_ID))] = jwk.key
    return keys


def _read_ssm_parameter(name: str, attempts: int) -> str:
    import boto3  # lazily: boto3 costs ~170 ms of cold start, and most deployments never need it

    try:
        answer = _client(boto3, "ssm", attempts).get_parameter(Name=name, WithDecryption=True)
    except Exception as error:
        raise KeySourceError(f"SSM parameter {name} could not be read: {type(error).__name__}") from error
    return str(answer["Parameter"]["Value"])


def _read_secret(secret_id: str, attempts: int) -> str:
    import boto3

    try:
        answer = _client(boto3, "secretsmanager", attempts).get_secret_value(SecretId=secret_id)
    except Exception as error:
        raise KeySourceError(f"secret {secret_id} could not be read: {type(error).__name__}") from error
    return str(answer["SecretString"])


def _client(boto3: Any, service: str, attempts: int) -> Any:
    from botocore.config import Config

    config = Config(
        connect_timeout=KEY_SOURCE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=KEY_SOURCE_READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": attempts},
    )
    return boto3.client(service, config=config)
