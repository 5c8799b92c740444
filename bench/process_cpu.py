"""CPU time of running processes, read from ``/proc``: what each process of a throughput arm spends.

Linux only (the bench machines). A group is a process and its descendants (uvicorn's workers are
children of the server process); times are user + system, in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its ")".
    return text.rsplit(")", 1)[1].split()


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it, as they are now."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def command_line(pid: int) -> bytes:
    """The process's command line, its words separated by NUL; empty when there is no such process."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return b""


def pids_running(argument: str) -> list[int]:
    """Processes whose command line holds ``argument`` as one of its words."""
    return [pid for pid in _all_pids() if argument.encode() in command_line(pid).split(b"\0")]


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds the processes have used so far (the ones still running)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def snapshot(groups: Mapping[str, Iterable[int]]) -> dict[str, float]:
    """CPU seconds so far of each named group of processes."""
    return {name: cpu_seconds(pids) for name, pids in groups.items()}
