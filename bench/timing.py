"""Timing: interleaved batches of measured calls, and their median and tail in a table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

# --- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    median_ms: float
    p90_ms: float
    p99_ms: float


def summarize(samples_ns: Sequence[int]) -> Summary:
    ordered = sorted(samples_ns)
    return Summary(
        count=len(ordered),
        median_ms=statistics.median(ordered) / 1e6,
        p90_ms=_nearest_rank(ordered, 0.90) / 1e6,
        p99_ms=_nearest_rank(ordered, 0.99) / 1e6,
    )


def _nearest_rank(ordered: Sequence[int], quantile: float) -> float:
    index = max(0, min(len(ordered) - 1, int(quantile * len(ordered) + 0.999999) - 1))
    return float(ordered[index])


# --- interleaved timing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    """One measured call; ``around`` wraps each of its batches (e.g. to change the log level)."""

    name: str
    call: Callable[[], bool]
    around: Callable[[], AbstractContextManager[None]] = nullcontext


def run_interleaved(arms: Sequence[Arm], iterations: int, batch: int) -> dict[str, list[int]]:
    """``iterations`` timed calls of each arm, in alternating batches (order reversed each round)."""
    samples: dict[str, list[int]] = {arm.name: [] for arm in arms}
    order = list(arms)
    done = 0
    while done < iterations:
        size = min(batch, iterations - done)
        for arm in order:
            _time_batch(arm, size, samples[arm.name])
        order.reverse()
        done += size
    return samples


def _time_batch(arm: Arm, size: int, into: list[int]) -> None:
    clock = time.perf_counter_ns
    failures = 0
    with arm.around():
        for _ in range(size):
            started = clock()
            ok = arm.call()
            into.append(clock() - started)
            failures += not ok
    if failures:
        raise RuntimeError(f"{arm.name}: {failures} of {size} calls failed")


def warm_up(arms: Sequence[Arm], calls: int) -> None:
    for arm in arms:
        for _ in range(calls):
            arm.call()


def timing_table(summaries: Mapping[str, Summary]) -> list[str]:
    lines = ["| measurement | n | median ms | p90 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for name, summary in summaries.items():
        lines.append(
            f"| {name} | {summary.count} | {summary.median_ms:.3f} | "
            f"{summary.p90_ms:.3f} | {summary.p99_ms:.3f} |"
        )
    return lines
