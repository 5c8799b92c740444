"""The audit stream as tests read it: each entry's fields, oldest first."""

from __future__ import annotations

from typing import cast

import redis

from bakery_gateway.clients import redis_keyspace


def audit_entries(client: redis.Redis) -> list[dict[str, str]]:
    """Every entry of ``AUDIT_STREAM`` (``client`` decodes responses; fakeredis's sync one will do)."""
    entries = cast(list[tuple[str, dict[str, str]]], client.xrange(redis_keyspace.AUDIT_STREAM))
    return [fields for _, fields in entries]
