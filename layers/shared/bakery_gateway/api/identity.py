"""Who a request is from: the verified token claims, and their trip through the authorizer context.

API Gateway passes the authorizer's context to the proxy as ``requestContext.authorizer.lambda``
and allows only strings, numbers and booleans there, so list claims travel as JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.api.demo import DemoAccountType
from bakery_gateway.errors import AuthenticationError

INVALID_TOKEN = AuthenticationError.problem_type  # a refused token's problem


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller, as verified from an access token."""

    user_id: str
    tenant_id: str | None
    tenant_ids: tuple[str, ...]
    roles: tuple[str, ...]
    jti: str
    issued_at: int
    expires_at: int
    demo_session_id: str | None = None
    demo_account_type: DemoAccountType | None = None
    demo_expires_at: int | None = None  # the demo session's end, from its record in Redis
    # An API key's caller (api_keys.py): its id, and the services it may call (None: a user, unscoped).
    api_key_id: str | None = None
    services: tuple[str, ...] | None = None

    @property
    def is_demo(self) -> bool:
        return self.demo_session_id is not None

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    def to_context(self) -> dict[str, str | int | bool]:
        """The authorizer context for this identity (the brief's context contract)."""
        context: dict[str, str | int | bool] = {
            "authenticated": True,
            "user_id": self.user_id,
            "tenant_id": self.tenant_id or "",
            "tenant_ids": json.dumps(list(self.tenant_ids)),
            "roles": json.dumps(list(self.roles)),
            "jti": self.jti,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "is_demo": self.is_demo,
        }
        if self.demo_session_id is not None and self.demo_account_type is not None:
            context["demo_session_id"] = self.demo_session_id
            context["demo_account_type"] = self.demo_account_type.value
            context["demo_expires_at"] = self.demo_expires_at or 0
        if self.api_key_id is not None:
            context["api_key_id"] = self.api_key_id
            context["services"] = json.dumps(list(self.services or ()))
        return context

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Identity:
        """Rebuild the identity from an authenticated authorizer context; ``KeyError``, ``ValueError``
        or ``TypeError`` when it is not one."""
        is_demo = _truthy(context.get("is_demo"))
        api_key_id = str(context.get("api_key_id") or "") or None
        return cls(
            user_id=str(context["user_id"]),
            tenant_id=str(context.get("tenant_id") or "") or None,
            tenant_ids=tuple(_json_list(context.get("tenant_ids"))),
            roles=tuple(_json_list(context.get("roles"))),
            jti=str(context["jti"]),
            issued_at=int(context.get("iat") or 0),
            expires_at=int(context["exp"]),
            demo_session_id=str(context["demo_session_id"]) if is_demo else None,
            demo_account_type=DemoAccountType(str(context["demo_account_type"])) if is_demo else None,
            demo_expires_at=int(context.get("demo_expires_at") or 0) or None if is_demo else None,
            api_key_id=api_key_id,
            # A key's scope never widens to "every service": a lost list is an empty one.
            services=tuple(_json_list(context.get("services"))) if api_key_id else None,
        )


@dataclass(frozen=True, slots=True)
class Unauthenticated:
    """The authorizer's verdict on a token it refused: why, in a phrase safe to show the client."""

    reason: str
    problem_type: str = INVALID_TOKEN  # the problem the functions answer: see authentication/caller.py

    def to_context(self) -> dict[str, str | int | bool]:
        return {"authenticated": False, "reason": self.reason, "problem_type": self.problem_type}


Verdict = Identity | Unauthenticated


def verdict_from_context(context: Mapping[str, Any]) -> Verdict:
    """The verdict an authorizer context carries: its identity when ``authenticated`` is ``true``,
    else its refusal (``reason``, ``problem_type``). ``KeyError``, ``ValueError`` or ``TypeError`` for
    an identity that is not one (``Identity.from_context``)."""
    if context.get("authenticated") is not True:
        return Unauthenticated(
            str(context.get("reason") or "token refused"),
            str(context.get("problem_type") or INVALID_TOKEN),
        )
    return Identity.from_context(context)


def _json_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str) and value:
        decoded = bounded_json.loads(value, max_bytes=bounded_json.STORED_RECORD_BYTES)
        if isinstance(decoded, list):
            return [str(item) for item in decoded]
    return []


def _truthy(value: object) -> bool:
    return value is True or value == "true"
