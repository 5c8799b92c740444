"""The functions' side of the authorizer contract: who called, as the authorizer decided.

Every function behind the authorizer calls ``caller_identity`` first: the authorizer never denies
(see ``authorizer.py``), so a refused token arrives here as ``authenticated: false`` and becomes a
401 problem. Expiry is checked again because API Gateway may answer from a cached authorizer result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bakery_gateway.authentication.identity import Identity
from bakery_gateway.edge import lambda_event
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
    event: Mapping[str, Any], *, leeway_seconds: int, clock: Callable[[], float] = time.time
) -> Identity:
    """The verified caller of an authorized route; ``AuthenticationError`` for anything else."""
    context = lambda_event.authorizer_context(event)
    if context is None:
        # A route wired without the authorizer by mistake fails closed.
        raise AuthenticationError("no bearer token in the Authorization header")
    if context.get("authenticated") is not True:
        reason = str(context.get("reason") or "token refused")
        problem_type = context.get("problem_type")
        unavailable = UNAVAILABLE.get(str(problem_type))
        if unavailable is not None:
            raise unavailable(reason, headers={"Retry-After": "5"})
        raise REFUSALS.get(str(problem_type), AuthenticationError)(reason)
    identity = Identity.from_context(context)
    now = clock()
    if identity.expires_at + leeway_seconds < now:
        if identity.is_api_key:
            raise InvalidApiKeyError("API key expired")
        raise AuthenticationError("token expired")
    if identity.is_demo and (identity.demo_expires_at or 0) <= now:
        raise DemoSessionExpiredError("demo session expired")
    return identity
