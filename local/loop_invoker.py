"""``bakery-gateway serve``'s invoker: ``async_handler`` awaited on the server's own event loop.

A function module may export, beside ``handler``, ``async_handler(event, context)``: the same answer,
computed on the caller's running loop without blocking it, safe to run many at once. ``serve`` awaits
it there, under the function's timeout, instead of hopping to one of ``Invoker``'s threads (each
with an event loop of its own) for every request. Functions without one (the authorizer) still run
on ``Invoker``'s threads. ``bakery-gateway local`` keeps ``Invoker`` alone: it imitates Lambda, one
invocation at a time per container.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bakery_local.invoker import Invoker, LambdaContext, within_timeout
from bakery_local.template import FunctionSpec

ASYNC_HANDLER = "async_handler"
AsyncHandler = Callable[[dict[str, Any], Any], Awaitable[Any]]


class LoopInvoker:
    """Awaits each function's ``async_handler`` on the caller's loop; the others go to ``threads``."""

    def __init__(self, functions: Mapping[str, FunctionSpec], threads: Invoker) -> None:
        self._functions = dict(functions)
        self._threads = threads
        self.invocations = threads.invocations  # one count per function, whichever way it ran
        # Per logical id, once its module is imported: its async_handler, or None (threads).
        self._async_handlers: dict[str, AsyncHandler | None] = {}

    async def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """The handler's result; ``FunctionTimeoutError`` past the function's timeout."""
        if logical_id in self._async_handlers:
            handler = self._async_handlers[logical_id]
        else:
            handler = await self._load(logical_id)
        if handler is None:
            return await self._threads.invoke(logical_id, event)
        spec = self._functions[logical_id]
        self.invocations[logical_id] += 1
        context = LambdaContext(logical_id, spec.memory_mb, spec.timeout_seconds)
        return await within_timeout(spec, handler(event, context))

    async def _load(self, logical_id: str) -> AsyncHandler | None:
        # The module's import (its cold start) runs on a thread, as on the thread path: not on the loop.
        await self._threads.load(logical_id)
        module = importlib.import_module(self._functions[logical_id].module)
        handler: AsyncHandler | None = getattr(module, ASYNC_HANDLER, None)
        self._async_handlers[logical_id] = handler
        return handler

    def close(self) -> None:
        self._threads.close()
