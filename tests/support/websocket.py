"""A fake ``@connections`` API for delivery tests: records posts, answers scripted errors.

Errors are ``PostAnswer`` values shaped as the management API answers them (status and
``x-amzn-ErrorType``), or exceptions, raised as a client that cannot sign would raise them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable

from bakery_gateway.realtime.websocket.management_api import PostAnswer

Scripted = PostAnswer | Exception


def client_error(code: str, status: int) -> PostAnswer:
    return PostAnswer(status, code)


def gone() -> PostAnswer:
    return client_error("GoneException", 410)


def throttled() -> PostAnswer:
    return client_error("LimitExceededException", 429)


class FakeManagementApi:
    """``errors[connection_id]``: what each successive post to that connection answers (then 200).
    ``delay_seconds``: how long each post takes, fixed or as a function of the posted data.
    ``posts`` are recorded when a post completes, in completion order."""

    def __init__(
        self,
        errors: dict[str, Iterable[Scripted]] | None = None,
        delay_seconds: float | Callable[[bytes], float] = 0.0,
    ) -> None:
        self.posts: list[tuple[str, bytes]] = []
        self.closed: list[str] = []
        self.attempts: dict[str, int] = {}
        self.max_in_flight = 0
        self._errors = {key: list(value) for key, value in (errors or {}).items()}
        self._delay = delay_seconds if callable(delay_seconds) else (lambda data: float(delay_seconds))
        self._in_flight = 0
        self._lock = threading.Lock()  # deliveries from several threads may share one fake

    async def post(self, connection_id: str, data: bytes) -> PostAnswer:
        with self._lock:
            self.attempts[connection_id] = self.attempts.get(connection_id, 0) + 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            pending = self._errors.get(connection_id, [])
            scripted = pending.pop(0) if pending else None
        try:
            await asyncio.sleep(self._delay(data))
            if isinstance(scripted, Exception):
                raise scripted
            if scripted is not None:
                return scripted
            with self._lock:
                self.posts.append((connection_id, data))
            return PostAnswer(200)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def delete(self, connection_id: str) -> PostAnswer:
        with self._lock:
            self.closed.append(connection_id)
        return PostAnswer(204)
