"""What a container does while Redis cannot answer: a local rate limiter, last known values, and
the revocations it knows (which also outlive a Redis that lost them)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bakery_gateway.policies.rules import BucketSpec
from bakery_gateway.policies.script import BucketState

ValueT = TypeVar("ValueT")


class LocalRateLimiter:
    """The same GCRA as ``policy.lua``, per container: limits abuse while Redis is away.

    Each container only sees its own share of the traffic, so this is looser than the shared limit.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 50_000) -> None:
        self._clock = clock
        self._max_buckets = max_buckets
        self._arrivals: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, buckets: Sequence[BucketSpec], plan: str | None) -> tuple[bool, tuple[BucketState, ...]]:
        now = self._clock() * 1000
        with self._lock:
            states, updates, allowed = [], {}, True
            for bucket in buckets:
                candidate = next(c for c in bucket.candidates if c.plan is None or c.plan == plan)
                window = candidate.window_seconds * 1000
                interval = window / candidate.requests
                arrival = max(self._arrivals.get(bucket.key_suffix, now), now)
                # Relative to now: (arrival + interval) - window compared with now rounds, and with
                # one request per window an idle bucket's first request would be refused.
                ahead = arrival - now
                wait = ahead + interval - window
                if wait > 0:
                    allowed = False
                    remaining, reset, retry = 0, ahead, wait
                else:
                    updates[bucket.key_suffix] = arrival + interval
                    remaining, reset, retry = int(-wait // interval), ahead + interval, 0
                states.append(
                    BucketState(
                        bucket.scope,
                        candidate.requests,
                        window,
                        remaining,
                        int(reset),
                        int(retry) + 1 if retry else 0,
                    )
                )
            if allowed:
                for key, arrival in updates.items():
                    self._arrivals[key] = arrival
                    self._arrivals.move_to_end(key)
                while len(self._arrivals) > self._max_buckets:
                    self._arrivals.popitem(last=False)
            return allowed, tuple(states)


@dataclass(frozen=True, slots=True)
class _Remembered(Generic[ValueT]):
    value: ValueT
    seen_at: float


class LastKnown(Generic[ValueT]):
    """The last value Redis gave for each key, usable for ``max_age`` seconds when Redis is down."""

    def __init__(
        self, max_age: float, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 50_000
    ):
        self._max_age = max_age
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Remembered[ValueT]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, key: str, value: ValueT) -> None:
        with self._lock:
            self._entries[key] = _Remembered(value, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def recall(self, key: str) -> tuple[bool, ValueT | None]:
        """(known, value): known is False when never seen or older than ``max_age``."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or self._clock() - entry.seen_at > self._max_age:
            return False, None
        return True, entry.value


class KnownRevocations:
    """Token ids this container saw revoked in Redis, or revoked itself (a logout), each kept until
    its token expires.

    A revocation is never lifted while its token lives, so unlike ``LastKnown`` this memory has no
    age: it refuses the token with or without Redis, and after a Redis that lost its revocation list
    (a restart without persistence). Bounded: beyond ``max_entries`` the least recent are forgotten.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, max_entries: int = 50_000) -> None:
        self._clock = clock  # wall time: the expiries are the tokens' ``exp``
        self._max_entries = max_entries
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, jti: str, until: float) -> None:
        with self._lock:
            self._until[jti] = max(until, self._until.get(jti, until))
            self._until.move_to_end(jti)
            while len(self._until) > self._max_entries:
                self._until.popitem(last=False)

    def revoked(self, jti: str) -> bool:
        with self._lock:
            until = self._until.get(jti)
            if until is not None and until <= self._clock():
                del self._until[jti]  # the token has expired: it is refused as expired now
                return False
        return until is not None
