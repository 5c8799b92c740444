"""Every Redis key family the gateway uses, with its TTL: the one place that names them."""

from __future__ import annotations

import hashlib

# Validated claims, keyed by a hash of the token (the token itself is never stored).
CLAIMS_CACHE_PREFIX = "gw:auth:claims:"
CLAIMS_CACHE_MAX_TTL_SECONDS = 15 * 60

# Revoked token ids (logout), kept until the token would have expired anyway.
REVOKED_PREFIX = "gw:auth:revoked:"


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claims_cache_key(token: str) -> str:
    return CLAIMS_CACHE_PREFIX + token_fingerprint(token)


def claims_cache_ttl(expires_at: int, now: float) -> int:
    """Cache claims no longer than 15 minutes and never past the token's own expiry."""
    return max(0, min(CLAIMS_CACHE_MAX_TTL_SECONDS, int(expires_at - now)))


def revoked_key(jti: str) -> str:
    return REVOKED_PREFIX + jti


def revocation_ttl(expires_at: int, now: float, leeway_seconds: int) -> int:
    """Keep a revocation until the token is past its expiry and the verifier's leeway."""
    return max(1, int(expires_at - now) + leeway_seconds + 1)
