"""The Redis AUTH token: from Secrets Manager on AWS, read once per container when the first client is made.

On AWS the token never sits in the template or in an environment variable: ``REDIS_PASSWORD_SECRET_ID``
names the secret (infra/redis.yaml creates it as ``{"password": ...}``; a secret that is the plain
token works too). ``REDIS_PASSWORD`` stays for the local runtime and ``sam local``, where a plain
value is all there is.
"""

from __future__ import annotations

from bakery_gateway import constants as names
from bakery_gateway.clients.secrets_manager import read_secret, value_from_secret
from bakery_gateway.settings import RedisSettings

# The JSON key of the token in a JSON secret (infra/redis.yaml's GenerateStringKey).
JSON_FIELD = "password"


def redis_password(settings: RedisSettings) -> str | None:
    """The password Redis clients authenticate with: the secret's token, else ``REDIS_PASSWORD``."""
    if settings.password_secret_id:
        return secret_password(settings.password_secret_id)
    return settings.password


def secret_password(secret_id: str) -> str:
    """The token held by ``secret_id``, fetched once per container (a failure is not cached)."""
    return read_secret(secret_id, names.REDIS_PASSWORD_SECRET_ID, JSON_FIELD)


def password_from_secret(text: str, secret_id: str) -> str:
    """The token in a secret's value: ``{"password": "..."}``, or the value itself."""
    return value_from_secret(text, secret_id, names.REDIS_PASSWORD_SECRET_ID, JSON_FIELD)
