"""A fake ``@connections`` client for delivery tests: records posts, answers scripted errors.

Errors are botocore's own ``ClientError``, shaped as the management API answers them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PostToConnection")


def gone() -> ClientError:
    return client_error("GoneException", 410)


def throttled() -> ClientError:
    return client_error("LimitExceededException", 429)


class FakeManagementApi:
    """``errors[connection_id]``: what each successive post to that connection raises (then success)."""

    def __init__(
        self, errors: dict[str, Iterable[Exception]] | None = None, delay_seconds: float = 0.0
    ) -> None:
        self.posts: list[tuple[str, bytes]] = []
        self.attempts: dict[str, int] = {}
        self.max_in_flight = 0
        self._errors = {key: list(value) for key, value in (errors or {}).items()}
        self._delay_seconds = delay_seconds
        self._in_flight = 0
        self._lock = threading.Lock()

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> object:  # noqa: N803
        with self._lock:
            self.attempts[ConnectionId] = self.attempts.get(ConnectionId, 0) + 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            pending = self._errors.get(ConnectionId, [])
            error = pending.pop(0) if pending else None
        try:
            time.sleep(self._delay_seconds)
            if error is not None:
                raise error
            with self._lock:
                self.posts.append((ConnectionId, Data))
            return {}
        finally:
            with self._lock:
                self._in_flight -= 1
