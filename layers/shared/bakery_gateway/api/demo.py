"""Demo mode: the two account types, defined once, and the demo session record the gateway reads.

The demo-session service writes each session to Redis as a hash under ``demo_session_key(id)``:
    account_type       "professional" or "enterprise" (older names are refused, never mapped)
    parent_tenant_id   the session's bakery (enterprise: the central bakery)
    child_tenant_ids   JSON list of the outlets' tenant ids (enterprise only; empty otherwise)
    expires_at         epoch seconds; the key itself expires then too
A demo user may act on exactly its session's tenants: the parent, and for enterprise every child.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bakery_gateway import bounded_json
from bakery_gateway.errors import InvalidDemoAccountTypeError


class DemoAccountType(StrEnum):
    """The only two demo account types. Older names are refused, never mapped."""

    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


VALID_DEMO_ACCOUNT_TYPES = tuple(account_type.value for account_type in DemoAccountType)


def parse_demo_account_type(value: object) -> DemoAccountType | None:
    """The account type named by ``value``, or None when it is not one of the two valid names."""
    if isinstance(value, str):
        try:
            return DemoAccountType(value)
        except ValueError:
            return None
    return None


def require_demo_account_type(value: object, where: str) -> DemoAccountType:
    """The account type, or ``InvalidDemoAccountTypeError`` naming the two valid ones."""
    account_type = parse_demo_account_type(value)
    if account_type is None:
        valid = ", ".join(VALID_DEMO_ACCOUNT_TYPES)
        shown = repr(value)[:40]  # the client's own value, cut short: never a long echo
        raise InvalidDemoAccountTypeError(
            f"{where}: {shown} is not a demo account type; use one of {valid}",
            extensions={"valid_account_types": list(VALID_DEMO_ACCOUNT_TYPES)},
        )
    return account_type


@dataclass(frozen=True, slots=True)
class DemoSession:
    session_id: str
    account_type: DemoAccountType
    parent_tenant_id: str
    child_tenant_ids: tuple[str, ...]
    expires_at: int

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        """Every tenant the session's user may act on: for enterprise the parent and its outlets."""
        if self.account_type is DemoAccountType.ENTERPRISE:
            return (self.parent_tenant_id, *self.child_tenant_ids)
        return (self.parent_tenant_id,)

    @classmethod
    def from_hash(cls, session_id: str, fields: Mapping[str, str]) -> DemoSession:
        """Parse a stored record; ``InvalidDemoAccountTypeError`` for an old or unknown account type,
        ``ValueError`` for any other malformation."""
        account_type = require_demo_account_type(fields.get("account_type"), "stored demo session")
        parent = fields.get("parent_tenant_id", "")
        if not parent:
            raise ValueError("demo session without parent_tenant_id")
        children = bounded_json.loads(
            fields.get("child_tenant_ids") or "[]", max_bytes=bounded_json.STORED_RECORD_BYTES
        )
        if not isinstance(children, list) or not all(isinstance(child, str) and child for child in children):
            raise ValueError("child_tenant_ids must be a JSON list of tenant ids")
        return cls(session_id, account_type, parent, tuple(children), int(fields.get("expires_at") or 0))

    def to_hash(self) -> dict[str, str]:
        return {
            "account_type": self.account_type.value,
            "parent_tenant_id": self.parent_tenant_id,
            "child_tenant_ids": json.dumps(list(self.child_tenant_ids)),
            "expires_at": str(self.expires_at),
        }
