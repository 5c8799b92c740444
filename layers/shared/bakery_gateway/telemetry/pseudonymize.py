"""User ids as the logs show them: as they are, or pseudonymized with a keyed hash (GDPR art. 4(5)).

A pseudonym is ``u_`` + the first 16 hex digits of HMAC-SHA256(key, user id): the same user gets the
same pseudonym in every log line and container (so a user's requests can still be followed), but
nobody can tell who it is without the key, and nobody can brute-force the ids without it either,
which a plain hash would allow. Deleting or rotating the key turns the old logs into anonymous ones.
On AWS the key is a secret (``USER_ID_LOG_KEY_SECRET_ID``) read once per container at cold start.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import MIN_LOG_KEY_LENGTH, ObservabilitySettings

PSEUDONYM_PREFIX = "u_"
KEY_FIELD = "key"  # the key's field in a JSON secret
PSEUDONYM_HEX_DIGITS = 16  # 64 bits: no collisions to speak of among a platform's users
UserIdForLog = Callable[[str], str]


def plain(user_id: str) -> str:
    return user_id


def pseudonymizer(key: str) -> UserIdForLog:
    """The keyed pseudonym of a user id; cached, since a container sees the same users again."""
    key_bytes = key.encode()

    @lru_cache(maxsize=4096)
    def pseudonym(user_id: str) -> str:
        digest = hmac.new(key_bytes, user_id.encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]

    return pseudonym


def user_id_for_log(settings: ObservabilitySettings) -> UserIdForLog:
    """How the settings say user ids appear in logs."""
    if settings.user_id_log_mode != "pseudonymized":
        return plain
    if settings.user_id_log_key_secret_id:
        return pseudonymizer(log_key_from_secret(settings.user_id_log_key_secret_id))
    if settings.user_id_log_key:
        return pseudonymizer(settings.user_id_log_key)
    return plain


def log_key_from_secret(secret_id: str) -> str:
    """The HMAC key held by the secret ``USER_ID_LOG_KEY_SECRET_ID`` names (``{"key": ...}`` or the
    key itself), read once per container."""
    from bakery_gateway.clients.secrets_manager import read_secret

    key = read_secret(secret_id, names.USER_ID_LOG_KEY_SECRET_ID, KEY_FIELD)
    if len(key) < MIN_LOG_KEY_LENGTH:
        raise ConfigurationError(
            f"{names.USER_ID_LOG_KEY_SECRET_ID}: secret {secret_id} holds a key under "
            f"{MIN_LOG_KEY_LENGTH} characters"
        )
    return key
