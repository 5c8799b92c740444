"""Alerts as the tests write them (straight into the tenant's stream, per the contract in
``redis_keys``) and server-sent events as the tests read them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis

from bakery_gateway.clients import redis_keyspace


def write_alert(
    client: redis.Redis, tenant_id: str, message: str = "oven 3 overheating", *, maxlen: int | None = None
) -> str:
    """XADD one alert to the tenant's stream (one field, the alert JSON); its stream id."""
    alert = {
        "alert_id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "severity": "high",
        "message": message,
        "timestamp": "2026-03-09T10:00:00Z",
        "type": "equipment",
    }
    fields: Any = {redis_keyspace.ALERT_STREAM_FIELD: json.dumps(alert)}
    entry_id = client.xadd(
        redis_keyspace.alert_stream_key(tenant_id), fields, maxlen=maxlen, approximate=False
    )
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


@dataclass
class ServerEvent:
    """One block of a text/event-stream body: its fields (``data`` lines joined) and comments."""

    event: str | None = None
    id: str | None = None
    data: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data or "null")


def parse_events(text: str) -> list[ServerEvent]:
    """Every block of ``text`` (complete blocks only: a trailing partial one is left out)."""
    blocks = text.replace("\r\n", "\n").split("\n\n")[:-1]
    return [_parse_block(block) for block in blocks if block]


def _parse_block(block: str) -> ServerEvent:
    parsed = ServerEvent()
    data: list[str] = []
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            parsed.comments.append(value)
        elif name == "data":
            data.append(value)
        elif name in ("event", "id", "retry"):
            setattr(parsed, name, value)
    parsed.data = "\n".join(data) if data else None
    return parsed


def alerts_of(events: list[ServerEvent]) -> list[tuple[str, str]]:
    """(stream id, message) of each ``alert`` event, in order."""
    return [(event.id or "", event.json()["message"]) for event in events if event.event == "alert"]
