"""API Gateway's authorizer result cache: keyed by the identity sources' values, for the route's TTL.

One implementation for both hosts that stand in for API Gateway: ``serve`` keeps the authorizer's
typed verdict, the local runtime the context of its simple response.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

Context = TypeVar("Context")
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class CachedVerdict(Generic[Context]):
    authorized: bool
    context: Context
    expires_at: float


class VerdictCache(Generic[Context]):
    """Verdicts per (authorizer, identity sources); a TTL of 0 caches nothing, as API Gateway."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[tuple[str, tuple[str, ...]], CachedVerdict[Context]] = {}

    def get(self, authorizer: str, identity: tuple[str, ...]) -> CachedVerdict[Context] | None:
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
        context: Context,
        ttl: int,
    ) -> None:
        if ttl <= 0:
            return  # a TTL of 0 turns API Gateway's cache off
        if len(self._entries) >= self._max_entries:
            now = self._clock()
            self._entries = {key: entry for key, entry in self._entries.items() if entry.expires_at > now}
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest: dicts keep insertion order
        self._entries[(authorizer, identity)] = CachedVerdict(authorized, context, self._clock() + ttl)

    async def judged(
        self,
        authorizer: str,
        identity: tuple[str, ...],
        ttl: int,
        ask: Callable[[], Awaitable[tuple[bool, Context]]],
    ) -> tuple[bool, Context]:
        """The verdict cached for ``identity``, else ``ask``'s, kept for ``ttl``; what ``ask`` raises
        is raised, and nothing kept (API Gateway caches no failing authorizer)."""
        cached = self.get(authorizer, identity)
        if cached is not None:
            return cached.authorized, cached.context
        authorized, context = await ask()
        self.put(authorizer, identity, authorized=authorized, context=context, ttl=ttl)
        return authorized, context

    def __len__(self) -> int:
        return len(self._entries)
