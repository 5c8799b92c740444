"""Cold start on Lambda: no garbage collection while a handler module imports.

Importing a handler allocates ~100,000 objects (FastAPI, pydantic, redis, our dataclasses) and
almost none of them are garbage, yet each allocation burst triggers the collector: 10-15% of the
proxy's import CPU time went to collections that free nothing (bench/README.md, cold start). So
``bakery_gateway/__init__.py`` pauses collection on Lambda, and ``telemetry.instrument()`` -- the
last line of every handler module -- freezes what the import built (later collections never scan
it again, which shortens their pauses on the request path too) and resumes collection; ``serve``'s
``build_app`` does the same once a worker's functions are built.

Only on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set): tests and the local runtime import the library
without ever calling ``instrument()`` for it, and must not run without a collector.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping

from bakery_gateway import constants as names

_paused = False


def pause_collection(environ: Mapping[str, str] | None = None) -> bool:
    """On Lambda, stop garbage collection until ``resume_collection()``; whether it did."""
    global _paused
    environ = os.environ if environ is None else environ
    if environ.get(names.LAMBDA_FUNCTION_NAME_VARIABLE) and gc.isenabled():
        gc.disable()
        _paused = True
    return _paused


def resume_collection() -> None:
    """After the import: freeze the objects it left, and collect again. A no-op unless paused."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False
