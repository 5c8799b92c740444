"""The power-tuning bench's figures: per function and memory size, the recommendation, and the tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from cgroup_cpu import CpuReading
from cost import Invocation
from lambda_container import cpu_share
from timing import Summary, summarize

CFS_PERIOD_MS = 100.0  # Docker's --cpus sets a quota per period of this length (cpu.cfs_period_us)


@dataclass(frozen=True)
class Phase:
    """One load shape's invocations in one container."""

    latencies_ns: list[int]  # each invocation's round trip as the caller saw it
    reported_ms: list[float]  # each one's duration as the emulator reported it: what Lambda bills
    cpu: CpuReading  # what the container spent over the phase

    @property
    def summary(self) -> Summary:
        return summarize(self.latencies_ns)

    @property
    def cpu_ms_per_invocation(self) -> float:
        return self.cpu.usage_ns / len(self.latencies_ns) / 1e6

    @property
    def throttled_share(self) -> float:
        """The share of CFS periods with work in which the quota ran out."""
        return self.cpu.throttled_periods / self.cpu.periods if self.cpu.periods else 0.0

    def bill(self, function: str, memory_mb: int) -> Invocation:
        return Invocation.measured(function, self.reported_ms, memory_mb)


@dataclass(frozen=True)
class SizeResult:
    scenario: str
    function: str
    memory_mb: int
    first_ms: float  # the container's first invocation (the runtime's start, the import), CPU not limited
    back_to_back: Phase
    gapped: Phase
    peak_memory_mib: float | None

    @property
    def worst_p99_ms(self) -> float:
        return max(self.back_to_back.summary.p99_ms, self.gapped.summary.p99_ms)

    @property
    def usd_per_million(self) -> float:
        """Lambda's charge per million invocations, under the dearer of the two load shapes."""
        return max(
            phase.bill(self.function, self.memory_mb).lambda_usd_per_million()
            for phase in (self.back_to_back, self.gapped)
        )


@dataclass(frozen=True)
class Recommendation:
    function: str
    scenarios: tuple[str, ...]
    memory_mb: int
    worst_p99_ms: float
    usd_per_million: float  # summed over the function's scenarios (one invocation of each)
    within_budget: bool


def recommend(results: Iterable[SizeResult], budget_ms: float) -> list[Recommendation]:
    """Per function: the cheapest memory size at which every one of its scenarios keeps its p99, under
    both load shapes, within ``budget_ms``; where no size does, the size with the lowest p99."""
    by_function: dict[str, dict[int, list[SizeResult]]] = {}
    for result in results:
        by_function.setdefault(result.function, {}).setdefault(result.memory_mb, []).append(result)
    chosen = []
    for function, sizes in by_function.items():
        candidates = [
            Recommendation(
                function,
                tuple(result.scenario for result in group),
                memory_mb,
                max(result.worst_p99_ms for result in group),
                sum(result.usd_per_million for result in group),
                all(result.worst_p99_ms <= budget_ms for result in group),
            )
            for memory_mb, group in sorted(sizes.items())
        ]
        within = [candidate for candidate in candidates if candidate.within_budget]
        if within:
            chosen.append(min(within, key=lambda item: (item.usd_per_million, item.memory_mb)))
        else:
            chosen.append(min(candidates, key=lambda item: (item.worst_p99_ms, item.memory_mb)))
    return chosen


def share_table(sizes: Sequence[int]) -> list[str]:
    """The limits each memory size runs under."""
    lines = [
        "| memory (MB) | vCPU share (`--cpus`) | CPU per 100 ms period | `--memory` / `--memory-swap` |",
        "|---:|---:|---:|---|",
    ]
    for size in sizes:
        share = cpu_share(size)
        lines.append(f"| {size:,} | {share:.3f} | {share * CFS_PERIOD_MS:.1f} ms | {size}m / {size}m |")
    return lines


def split_floor(
    results: Iterable[SizeResult], floor_scenario: str
) -> tuple[dict[int, float], list[SizeResult]]:
    """The floor scenario's CPU per invocation by memory size (back to back), and the other results."""
    floors: dict[int, float] = {}
    tuned: list[SizeResult] = []
    for result in results:
        if result.scenario == floor_scenario:
            floors[result.memory_mb] = result.back_to_back.cpu_ms_per_invocation
        else:
            tuned.append(result)
    return floors, tuned


def results_table(results: Sequence[SizeResult], floor_cpu_ms: Mapping[int, float]) -> list[str]:
    """One row per scenario and memory size; ``floor_cpu_ms``: the no-op's CPU per invocation by size."""
    lines = [
        "| scenario | MB | back-to-back p50 / p99 ms | with gaps p50 / p99 ms | CPU ms per invocation | "
        "above the no-op | throttled periods | billed ms (b2b / gaps) | $ per million (b2b / gaps) | "
        "first invocation ms | peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, group in groupby(results, key=lambda result: result.scenario):
        for result in group:
            b2b, gaps = result.back_to_back, result.gapped
            bills = [phase.bill(result.function, result.memory_mb) for phase in (b2b, gaps)]
            floor = floor_cpu_ms.get(result.memory_mb)
            above = "-" if floor is None or scenario == "noop" else f"{b2b.cpu_ms_per_invocation - floor:.3f}"
            peak = "-" if result.peak_memory_mib is None else f"{result.peak_memory_mib:.0f}"
            lines.append(
                f"| {scenario} | {result.memory_mb:,} "
                f"| {b2b.summary.median_ms:.2f} / {b2b.summary.p99_ms:.2f} "
                f"| {gaps.summary.median_ms:.2f} / {gaps.summary.p99_ms:.2f} "
                f"| {b2b.cpu_ms_per_invocation:.3f} | {above} "
                f"| {b2b.throttled_share:.0%} / {gaps.throttled_share:.0%} "
                f"| {bills[0].billed_ms:.2f} / {bills[1].billed_ms:.2f} "
                f"| {bills[0].lambda_usd_per_million():.3f} / {bills[1].lambda_usd_per_million():.3f} "
                f"| {result.first_ms:,.0f} | {peak} |"
            )
    return lines


def recommendation_table(
    recommendations: Sequence[Recommendation], budget_ms: float, configured: Mapping[str, int]
) -> list[str]:
    lines = [
        f"| function | scenarios | recommended MB | worst p99 there | $ per million there "
        f"| p99 ≤ {budget_ms:g} ms | template MemorySize |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for item in recommendations:
        verdict = "yes" if item.within_budget else "**no size does**"
        template = configured.get(item.function)
        configured_mb = "-" if template is None else f"{template:,}"
        lines.append(
            f"| {item.function} | {', '.join(item.scenarios)} | {item.memory_mb:,} "
            f"| {item.worst_p99_ms:.2f} ms | {item.usd_per_million:.3f} | {verdict} | {configured_mb} |"
        )
    return lines
