"""The audit trail of tenant policy changes: who changed what, from what, to what, and when.

Each change is one record, written twice: an entry of the Redis stream ``clients.redis_keyspace.AUDIT_STREAM``
(in the same transaction as the change itself, see ``store.py``) and a structured log line with
``"audit": true``, which outlives the capped stream in CloudWatch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.telemetry.observability import logger


class AuditAction(StrEnum):
    READ_ONLY_SET = "read_only.set"
    READ_ONLY_LIFTED = "read_only.lift"
    SUBSCRIPTION_OVERRIDE_SET = "subscription_override.set"
    SUBSCRIPTION_OVERRIDE_REMOVED = "subscription_override.remove"
    RATE_LIMITS_SET = "rate_limits.set"
    RATE_LIMITS_REMOVED = "rate_limits.remove"
    SUBSCRIPTION_PUSHED = "subscription.push"
    SUBSCRIPTION_INVALIDATED = "subscription.invalidate"
    API_KEY_CREATED = (
        "api_key.create"  # before/after: the key's record without its hash (authentication/api_keys.py)
    )
    API_KEY_REVOKED = "api_key.revoke"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change: the caller's user id, and the request that carries it."""

    user_id: str
    request_id: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    action: AuditAction
    tenant_id: str
    actor: Actor
    at: str  # ISO 8601, UTC
    before: Any  # the JSON views of the state the change replaced, and of the state it left
    after: Any
    entry_id: str | None = None  # the stream entry's id, once read back

    def to_stream_fields(self) -> dict[str, str]:
        return {
            "action": self.action.value,
            "tenant_id": self.tenant_id,
            "actor": self.actor.user_id,
            "request_id": self.actor.request_id,
            "at": self.at,
            "before": json.dumps(self.before, separators=(",", ":")),
            "after": json.dumps(self.after, separators=(",", ":")),
        }

    @classmethod
    def from_stream_entry(cls, entry_id: str, fields: Mapping[str, str]) -> AuditRecord:
        return cls(
            action=AuditAction(fields["action"]),
            tenant_id=fields["tenant_id"],
            actor=Actor(fields["actor"], fields.get("request_id", "")),
            at=fields["at"],
            before=bounded_json.loads(
                fields.get("before") or "null", max_bytes=bounded_json.STORED_RECORD_BYTES
            ),
            after=bounded_json.loads(
                fields.get("after") or "null", max_bytes=bounded_json.STORED_RECORD_BYTES
            ),
            entry_id=entry_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.entry_id,
            "at": self.at,
            "action": self.action.value,
            "tenant_id": self.tenant_id,
            "actor": self.actor.user_id,
            "request_id": self.actor.request_id,
            "before": self.before,
            "after": self.after,
        }


def log_change(record: AuditRecord) -> None:
    """The record's structured log line; ``audit: true`` is what log queries and alarms select on."""
    logger.info(
        "tenant policy changed",
        extra={
            "audit": True,
            "action": record.action.value,
            "tenant_id": record.tenant_id,
            "actor": record.actor.user_id,
            "correlation_id": record.actor.request_id,
            "at": record.at,
            # Nested: the log formatter drops top-level null fields, and a null here means something.
            "change": {"before": record.before, "after": record.after},
        },
    )
