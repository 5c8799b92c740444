"""Verified callers for tests: every field an ``Identity`` needs, with the ones a test names overridden."""

from __future__ import annotations

from typing import Any

from bakery_gateway.api.demo import DemoAccountType
from bakery_gateway.api.identity import Identity

ISSUED_AT = 1_700_000_000
EXPIRES_AT = ISSUED_AT + 3600


def identity(**fields: Any) -> Identity:
    """user-1 on tenant-a (and tenant-b), an owner, token ``jti-1`` valid for an hour from ``ISSUED_AT``."""
    defaults: dict[str, Any] = {
        "user_id": "user-1",
        "tenant_id": "tenant-a",
        "tenant_ids": ("tenant-a", "tenant-b"),
        "roles": ("owner",),
        "jti": "jti-1",
        "issued_at": ISSUED_AT,
        "expires_at": EXPIRES_AT,
    }
    return Identity(**{**defaults, **fields})


def demo_identity(**fields: Any) -> Identity:
    """A demo user of an enterprise session (``session-1``): its parent tenant and one outlet."""
    defaults: dict[str, Any] = {
        "user_id": "demo-user",
        "tenant_id": "parent",
        "tenant_ids": ("parent", "outlet-1"),
        "jti": "jti-2",
        "demo_session_id": "session-1",
        "demo_account_type": DemoAccountType.ENTERPRISE,
    }
    return identity(**{**defaults, **fields})
