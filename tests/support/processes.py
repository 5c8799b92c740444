"""Stopping the processes tests start (servers, runtimes): politely, then for sure."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], timeout_seconds: float = 10.0) -> None:
    """SIGTERM, and SIGKILL when it is not gone within ``timeout_seconds``; returns once it has exited."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
