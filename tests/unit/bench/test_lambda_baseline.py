"""`make bench-lambda ARGS='--baseline-ref REF'` (bench/lambda_baseline.py): the two versions measured
side by side in the sweep, and the ratios reported (the commit's files: test_baseline.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from tests.support.bench import bench_module

for neighbour in (
    "timing",
    "cost",
    "cgroup_cpu",
    "lambda_container",
    "harness",
    "lambda_scenarios",
    "results_table",
):
    bench_module(neighbour)
cgroup_cpu = bench_module("cgroup_cpu")
lambda_report = bench_module("lambda_report")
lambda_baseline = bench_module("lambda_baseline")
lambda_power = bench_module("lambda_power")


def _phase(p99_ms: float, cpu_ms: float, count: int = 100) -> Any:
    latencies = [1_000_000] * (count - 2) + [int(p99_ms * 1e6)] * 2
    return lambda_report.Phase(
        latencies, [1.5] * count, cgroup_cpu.CpuReading(int(cpu_ms * 1e6 * count), 10, 0, 0)
    )


def _result(scenario: str, memory_mb: int, cpu_ms: float, p99_ms: float) -> Any:
    return lambda_report.SizeResult(
        scenario, "ProxyFunction", memory_mb, 500.0, _phase(p99_ms, cpu_ms), _phase(p99_ms, cpu_ms), 50.0
    )


def test_the_comparison_gives_each_figure_of_both_versions_and_their_ratio() -> None:
    baseline = [_result("proxy", 1536, cpu_ms=2.0, p99_ms=10.0)]
    current = [_result("proxy", 1536, cpu_ms=1.0, p99_ms=5.0)]

    (row,) = lambda_baseline.comparison_table(baseline, current)[2:]

    assert row == ("| proxy | 1,536 | 2.000 → 1.000 | 0.50x | 10.00 → 5.00 | 0.50x | 10.00 → 5.00 | 0.50x |")


def test_the_sweep_measures_both_versions_of_each_size_one_after_the_other_in_alternating_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    this, base = {"ProxyFunction": "this code"}, {"ProxyFunction": "baseline code"}
    stack = lambda_power.Stack("172.17.0.1", {}, this, Path("rie"), base)
    scenario = argparse.Namespace(name="proxy", function="ProxyFunction")
    measured: list[tuple[int, str]] = []

    def measure(stack: Any, scenario: Any, memory_mb: int, args: Any, codes: Any) -> Any:
        measured.append((memory_mb, codes["ProxyFunction"]))
        return _result(scenario.name, memory_mb, cpu_ms=1.0, p99_ms=2.0)

    monkeypatch.setattr(lambda_power, "measure", measure)

    results, baseline_results, failure = lambda_power.sweep(
        stack, [scenario], argparse.Namespace(sizes=[512, 1536])
    )

    assert measured == [
        (512, "this code"),
        (512, "baseline code"),
        (1536, "baseline code"),
        (1536, "this code"),
    ]
    assert [result.memory_mb for result in results] == [512, 1536]
    assert [result.memory_mb for result in baseline_results] == [512, 1536]
    assert failure is None


def test_the_no_op_gives_the_floor_per_size_and_the_functions_are_the_rest() -> None:
    results = [
        _result("proxy", 512, 2.4, 9.0),
        _result("noop", 512, 1.0, 3.0),
        _result("noop", 1536, 0.8, 2.0),
    ]

    floors, tuned = lambda_report.split_floor(results, "noop")

    assert floors == pytest.approx({512: 1.0, 1536: 0.8})
    assert [result.scenario for result in tuned] == ["proxy"]
