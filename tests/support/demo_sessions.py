"""Demo sessions as the demo-session service writes them, for tests that need a live one."""

from __future__ import annotations

import time
from typing import Protocol

from bakery_gateway.api.demo import DemoAccountType, DemoSession
from bakery_gateway.clients import redis_keyspace


class HashWriter(Protocol):
    def hset(self, name: str, key: str, value: str) -> object: ...


def start_demo_session(
    redis: HashWriter,
    session_id: str,
    account_type: str,
    parent_tenant_id: str,
    child_tenant_ids: tuple[str, ...] = (),
    *,
    seconds_left: int = 1800,
) -> None:
    """Write the session record; ``account_type`` is written as given, old names included."""
    fields = DemoSession(
        session_id,
        DemoAccountType.PROFESSIONAL,
        parent_tenant_id,
        child_tenant_ids,
        int(time.time()) + seconds_left,
    ).to_hash()
    fields["account_type"] = account_type
    for field, value in fields.items():
        redis.hset(redis_keyspace.demo_session_key(session_id), field, value)
