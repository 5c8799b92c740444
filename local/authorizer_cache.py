"""API Gateway's authorizer result cache: keyed by the identity source values, for the route's TTL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CachedVerdict:
    authorized: bool
    context: dict[str, Any]
    expires_at: float


class AuthorizerCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[tuple[str, tuple[str, ...]], CachedVerdict] = {}

    def get(self, authorizer: str, identity: tuple[str, ...]) -> CachedVerdict | None:
        entry = self._entries.get((authorizer, identity))
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[(authorizer, identity)]
            return None
        return entry

    def put(
        self,
        authorizer: str,
        identity: tuple[str, ...],
        *,
        authorized: bool,
        context: dict[str, Any],
        ttl: int,
    ) -> None:
        if ttl <= 0:
            return  # a TTL of 0 turns API Gateway's cache off
        if len(self._entries) >= self._max_entries:
            now = self._clock()
            self._entries = {key: entry for key, entry in self._entries.items() if entry.expires_at > now}
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
        self._entries[(authorizer, identity)] = CachedVerdict(authorized, context, self._clock() + ttl)
