"""The functions' side of the authorizer contract: who called, as the authorizer decided.

Every function behind the authorizer calls ``caller_identity`` first, with the verdict its request
carries (``api.request.Request.verdict``): the authorizer never denies (see ``authorizer.py``), so a
refused token arrives here as ``Unauthenticated`` and becomes a 401 problem. Expiry is checked
again because API Gateway may answer from a cached authorizer result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bakery_gateway.api.identity import Identity, Unauthenticated, Verdict
from bakery_gateway.errors import (
    ApiKeyRevokedError,
    AuthenticationError,
    DemoAccountTypeRefusedError,
    DemoSessionExpiredError,
    GatewayError,
    InvalidApiKeyError,
    StateUnavailableError,
    TokenKeysUnavailableError,
    TokenRevokedError,
)

# The authorizer's refusals by problem type: each keeps its own problem, so a client can tell them apart.
REFUSALS: dict[str, type[AuthenticationError]] = {
    error.problem_type: error
    for error in (
        TokenRevokedError,
        DemoSessionExpiredError,
        DemoAccountTypeRefusedError,
        InvalidApiKeyError,
        ApiKeyRevokedError,
    )
}


# What the authorizer could not judge for now (Redis, the token keys): 503 problems, retried.
UNAVAILABLE: dict[str, type[GatewayError]] = {
    error.problem_type: error for error in (StateUnavailableError, TokenKeysUnavailableError)
}


def caller_identity(
    verdict: Verdict | None, *, leeway_seconds: int, clock: Callable[[], float] = time.time
) -> Identity:
    """The verified caller of an authorized route, from the authorizer's ``verdict`` on the request
    (``Request.verdict``); ``AuthenticationError`` for anything else."""
    if verdict is None:
        # A route wired without the authorizer by mistake fails closed.
        raise AuthenticationError("no bearer token in the Authorization header")
    if isinstance(verdict, Unauthenticated):
        unavailable = UNAVAILABLE.get(verdict.problem_type)
        if unavailable is not None:
            raise unavailable(verdict.reason, headers={"Retry-After": "5"})
        raise REFUSALS.get(verdict.problem_type, AuthenticationError)(verdict.reason)
    identity = verdict
    now = clock()
    if identity.expires_at + leeway_seconds < now:
        if identity.is_api_key:
            raise InvalidApiKeyError("API key expired")
        raise AuthenticationError("token expired")
    if identity.is_demo and (identity.demo_expires_at or 0) <= now:
        raise DemoSessionExpiredError("demo session expired")
    return identity
