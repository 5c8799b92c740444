"""Invokes Lambda handlers in-process, concurrently, the way Lambda containers would.

Each worker thread has its own persistent event loop, like a Lambda container's one thread: Mangum
runs each invocation on the thread's loop, and the handlers' async clients bind to that loop.
Sharing one loop's clients between threads breaks them (see FACTS.md), so every worker gets its own.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bakery_local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionTimeoutError(Exception):
    """The handler ran past its function's configured timeout."""


def _give_thread_an_event_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


class Invoker:
    """Imports each function's handler once (its cold start) and runs invocations on worker threads."""

    def __init__(self, functions: Mapping[str, FunctionSpec], *, workers: int = 32) -> None:
        self._functions = dict(functions)
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="lambda", initializer=_give_thread_an_event_loop
        )
        self.invocations: dict[str, int] = {name: 0 for name in functions}

    def handler(self, logical_id: str) -> Handler:
        handler = self._handlers.get(logical_id)
        if handler is None:
            with self._import_lock:
                spec = self._functions[logical_id]
                handler = getattr(importlib.import_module(spec.module), spec.attribute)
                self._handlers[logical_id] = handler
        return handler

    async def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """The handler's result; ``FunctionTimeoutError`` past the function's timeout."""
        spec = self._functions[logical_id]
        self.invocations[logical_id] += 1
        context = LambdaContext(logical_id, spec.memory_mb, spec.timeout_seconds)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._call, logical_id, event, context)
        try:
            return await asyncio.wait_for(future, spec.timeout_seconds)
        except TimeoutError:
            raise FunctionTimeoutError(f"{logical_id} timed out after {spec.timeout_seconds} s") from None

    def _call(self, logical_id: str, event: dict[str, Any], context: LambdaContext) -> Any:
        return self.handler(logical_id)(event, context)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
