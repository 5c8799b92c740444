"""When a failed downstream call may be tried once more (docs/resilience.md).

Only an idempotent request, only after a connection failure (nothing was sent), at most once, and
only while this container's retries stay within a budget: a tenth of its requests over the last ten
seconds, plus a small allowance so a quiet container can still retry. In an outage the budget runs
out and retries stop, so the gateway never multiplies the load on a service that is already down.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_RATIO: Final = 0.1
MINIMUM_RETRIES: Final = 3
WINDOW_SECONDS: Final = 10.0
_SLOTS: Final = 10  # the window in one-second slots: constant memory, whatever the traffic


class RetryBudget:
    """A sliding-window count of requests and retries, per container."""

    def __init__(
        self,
        *,
        ratio: float = RETRY_RATIO,
        minimum: int = MINIMUM_RETRIES,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ratio = ratio
        self._minimum = minimum
        self._slot_seconds = window_seconds / _SLOTS
        self._clock = clock
        # (slot number, requests, retries), oldest first.
        self._slots: deque[list[int]] = deque()

    def record_request(self) -> None:
        self._current()[1] += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when the window has used it up."""
        current = self._current()
        requests = sum(slot[1] for slot in self._slots)
        retries = sum(slot[2] for slot in self._slots)
        if retries >= self._minimum + self._ratio * requests:
            return False
        current[2] += 1
        return True

    def _current(self) -> list[int]:
        number = int(self._clock() // self._slot_seconds)
        while self._slots and self._slots[0][0] <= number - _SLOTS:
            self._slots.popleft()
        if not self._slots or self._slots[-1][0] != number:
            self._slots.append([number, 0, 0])
        return self._slots[-1]


def may_retry(method: str) -> bool:
    return method.upper() in IDEMPOTENT_METHODS
