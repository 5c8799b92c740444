"""Invokes Lambda handlers concurrently, the way Lambda containers would.

Each worker thread has its own persistent event loop, like a Lambda container's one thread: the
functions run each invocation on the thread's loop, and the handlers' async clients bind to that loop.
Sharing one loop's clients between threads breaks them (see FACTS.md), so every worker gets its own.

Functions named in ``separate_processes`` run in worker processes of their own instead (one
invocation at a time per process, as in a Lambda container): a function that burns CPU for long
(the fanout posting to every WebSocket) then no longer competes with the runtime's own event loop
for one interpreter's GIL. Their events and results cross a pipe, so they must be JSON-like (they
are: Lambda's are JSON); their metrics stay in their own processes.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Protocol

from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


class FunctionInvoker(Protocol):
    """What the local gateway needs of an invoker (``Invoker``; tests give fakes)."""

    invocations: dict[str, int]  # per logical id: what /_local/status reports

    async def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """The handler's result; ``FunctionTimeoutError`` past the function's timeout."""
        ...

    def close(self) -> None: ...


class FunctionTimeoutError(Exception):
    """The handler ran past its function's configured timeout."""


async def _within_timeout(spec: FunctionSpec, invocation: Awaitable[Any]) -> Any:
    """The invocation's result; ``FunctionTimeoutError`` past the function's timeout (the thread of a
    timed-out invocation runs on, as nothing can stop it; a coroutine is cancelled)."""
    try:
        # asyncio.timeout, not wait_for: the invocation runs in the request's own task, not a new one.
        async with asyncio.timeout(spec.timeout_seconds):
            return await invocation
    except TimeoutError:
        raise FunctionTimeoutError(f"{spec.logical_id} timed out after {spec.timeout_seconds} s") from None


def _give_thread_an_event_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


def _call_in_process(module: str, attribute: str, event: dict[str, Any], context: LambdaContext) -> Any:
    """A worker process's invocation: the handler is imported on the process's first call (its cold
    start) and kept."""
    handler = _process_handlers.get((module, attribute))
    if handler is None:
        handler = getattr(importlib.import_module(module), attribute)
        _process_handlers[(module, attribute)] = handler
    return handler(event, context)


_process_handlers: dict[tuple[str, str], Handler] = {}
ORPHAN_CHECK_SECONDS = 1.0


def _start_worker_process(runtime_pid: int) -> None:
    """A worker process's start: an event loop for its one thread, and a watch that ends the process
    when the runtime is gone (killed runtimes would otherwise leave their workers behind)."""
    _give_thread_an_event_loop()

    def end_with_the_runtime() -> None:
        while os.getppid() == runtime_pid:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=end_with_the_runtime, name="orphan-watch", daemon=True).start()


class Invoker:
    """Imports each function's handler once (its cold start) and runs invocations on worker threads,
    or in worker processes for the functions named in ``separate_processes``."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        workers: int = 32,
        separate_processes: Collection[str] = (),
        processes_per_function: int = 1,
    ) -> None:
        unknown = sorted(set(separate_processes) - set(functions))
        if unknown:
            raise ValueError(f"no function {', '.join(unknown)} in the template")
        # spawn: forking a process that runs threads and an event loop copies their locks mid-use.
        context = multiprocessing.get_context("spawn")
        self._process_pools = {
            name: ProcessPoolExecutor(
                max_workers=processes_per_function,
                mp_context=context,
                initializer=_start_worker_process,
                initargs=(os.getpid(),),
            )
            for name in separate_processes
        }
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
        process_pool = self._process_pools.get(logical_id)
        if process_pool is not None:
            future = loop.run_in_executor(
                process_pool, _call_in_process, spec.module, spec.attribute, event, context
            )
        else:
            future = loop.run_in_executor(self._pool, self._call, logical_id, event, context)
        return await _within_timeout(spec, future)

    def _call(self, logical_id: str, event: dict[str, Any], context: LambdaContext) -> Any:
        return self.handler(logical_id)(event, context)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process_pool in self._process_pools.values():
            process_pool.shutdown(wait=False, cancel_futures=True)
