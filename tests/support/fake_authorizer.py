"""A function module with ``handler`` only (as the authorizer): allows every caller, records its thread."""

from __future__ import annotations

import threading
from typing import Any

threads: list[int] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    threads.append(threading.get_ident())
    return {"isAuthorized": True, "context": {"userId": "user-1"}}
