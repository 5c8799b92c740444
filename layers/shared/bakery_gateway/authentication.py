"""The functions' side of the authorizer contract: who called, as the authorizer decided.

Every function behind the authorizer calls ``caller_identity`` first: the authorizer never denies
(see ``authorizer.py``), so a refused token arrives here as ``authenticated: false`` and becomes a
401 problem. Expiry is checked again because API Gateway may answer from a cached authorizer result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bakery_gateway import events
from bakery_gateway.errors import AuthenticationError, TokenRevokedError
from bakery_gateway.identity import Identity


def caller_identity(
    event: Mapping[str, Any], *, leeway_seconds: int, clock: Callable[[], float] = time.time
) -> Identity:
    """The verified caller of an authorized route; ``AuthenticationError`` for anything else."""
    context = events.authorizer_context(event)
    if context is None:
        # A route wired without the authorizer by mistake fails closed.
        raise AuthenticationError("no bearer token in the Authorization header")
    if context.get("authenticated") is not True:
        reason = str(context.get("reason") or "token refused")
        if context.get("problem_type") == TokenRevokedError.problem_type:
            raise TokenRevokedError(reason)
        raise AuthenticationError(reason)
    identity = Identity.from_context(context)
    if identity.expires_at + leeway_seconds < clock():
        raise AuthenticationError("token expired")
    return identity
