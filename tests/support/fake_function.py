"""A function module for the local invoker's tests: ``handler`` records where it ran; the event's
``rawPath`` says what to do: ``/fail`` raises, ``/slow`` outlasts any short timeout, anything else
answers 200.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

SLOW_SECONDS = 1.0


@dataclass(frozen=True)
class Call:
    thread: int
    loop: asyncio.AbstractEventLoop | None  # the running loop, if any


calls: list[Call] = []


def _answer(event: dict[str, Any]) -> dict[str, Any]:
    if event["rawPath"] == "/fail":
        raise RuntimeError("the function failed")
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "answered"}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    calls.append(Call(threading.get_ident(), _running_loop()))
    if event["rawPath"] == "/slow":
        time.sleep(SLOW_SECONDS)
    return _answer(event)
