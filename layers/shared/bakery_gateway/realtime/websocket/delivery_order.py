"""Per-topic ordering of WebSocket deliveries within one process.

A payload reaches every connection of a topic before the next payload to that topic is posted to any
of them; the fanout holds a tenant's lock from storing an alert to posting it, so within a process
clients get a tenant's alerts in stream order. Across Lambda containers nothing orders them: clients
order and drop duplicates by ``stream_id`` (docs/websocket.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TopicLocks:
    """One lock per topic while someone holds or waits for it (training topics come and go, so
    unused locks are dropped)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        # Re-entrant: the fanout holds a tenant's lock around storing and posting an alert, and the
        # delivery it calls takes the same lock.
        self._locks: dict[str, tuple[threading.RLock, int]] = {}

    @contextmanager
    def hold(self, topic: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(topic) or (threading.RLock(), 0)
            self._locks[topic] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[topic]
                if users == 1:
                    del self._locks[topic]
                else:
                    self._locks[topic] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


# Process-wide: the fanout function's Delivery and the subscriber's are distinct objects.
TOPIC_LOCKS = TopicLocks()
