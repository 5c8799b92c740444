"""`make bench-lambda ARGS='--baseline-ref REF'`: another commit's functions, measured in the same run.

The commit ``REF`` names is exported by ``baseline.source`` (its tracked files, nothing of this
checkout's working tree) and ``sam build`` builds it there, as ``make build`` builds this checkout; a
commit already built there is reused. The sweep then measures
each scenario and size for both code versions, one after the other in alternating order, so both see
the same machine (``lambda_power.sweep``), and the report adds the ratio of each figure
(``comparison_table``). Both versions run with this checkout's template defaults as their environment.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from baseline import BaselineError, source
from harness import REPO_ROOT
from lambda_report import SizeResult, recommend, recommendation_table, results_table, split_floor
from lambda_scenarios import NOOP

SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
BUILT_MARK = ".built"


@dataclass(frozen=True)
class Baseline:
    ref: str  # as given
    commit: str  # the full commit it named when the run began
    build: Path  # its ``sam build`` output (``.aws-sam/build``)

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.commit[:7]})"


def prepare(ref: str, say: Callable[[str], None] = print, repo: Path = REPO_ROOT) -> Baseline:
    """``ref``'s functions built, once per commit: its files (``baseline.source``), then ``sam build``."""
    commit, folder = source(ref, repo)
    build = folder / ".aws-sam" / "build"
    if (folder / BUILT_MARK).is_file():
        say(f"baseline {ref} ({commit[:7]}): reusing its build in {folder.relative_to(REPO_ROOT)}")
        return Baseline(ref, commit, build)
    say(f"baseline {ref} ({commit[:7]}): building it in {folder.relative_to(REPO_ROOT)}")
    environment = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    built = subprocess.run(
        [str(SAM), "build"], cwd=folder, capture_output=True, text=True, env=environment, check=False
    )
    if built.returncode != 0:
        raise BaselineError(
            f"sam build of {ref} ({commit[:7]}) failed:\n{(built.stdout + built.stderr)[-2000:]}"
        )
    (folder / BUILT_MARK).write_text(commit + "\n")
    return Baseline(ref, commit, build)


def baseline_report(
    baseline: Baseline,
    baseline_results: Sequence[SizeResult],
    results: Sequence[SizeResult],
    args: argparse.Namespace,
    configured: Mapping[str, int],
) -> list[str]:
    """The baseline's table and recommendation (the no-op floor is this run's), then the ratios."""
    floors, tuned = split_floor(results, NOOP)
    return [
        "",
        f"#### Baseline: {baseline.label}, measured in the same run",
        "",
        f"Each scenario and size ran for both versions one after the other (order alternating); the "
        f"tables above are this checkout's, below the baseline's (commit {baseline.commit}).",
        "",
        *results_table(baseline_results, floors),
        "",
        *recommendation_table(recommend(baseline_results, args.budget_ms), args.budget_ms, configured),
        "",
        "This checkout against the baseline (ratio: this / baseline; below 1 is better):",
        "",
        *comparison_table(baseline_results, tuned),
    ]


def comparison_table(baseline: Sequence[SizeResult], current: Sequence[SizeResult]) -> list[str]:
    """Per scenario and size, the baseline's figure, this checkout's, and their ratio (this / baseline)."""
    before = {(result.scenario, result.memory_mb): result for result in baseline}
    lines = [
        "| scenario | MB | CPU ms per invocation (baseline → this) | ratio "
        "| back-to-back p99 ms | ratio | with gaps p99 ms | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in current:
        old = before.get((result.scenario, result.memory_mb))
        if old is None:
            continue
        pairs = [
            (old.back_to_back.cpu_ms_per_invocation, result.back_to_back.cpu_ms_per_invocation, 3),
            (old.back_to_back.summary.p99_ms, result.back_to_back.summary.p99_ms, 2),
            (old.gapped.summary.p99_ms, result.gapped.summary.p99_ms, 2),
        ]
        cells = " | ".join(
            f"{was:.{digits}f} → {now:.{digits}f} | {_ratio(was, now)}" for was, now, digits in pairs
        )
        lines.append(f"| {result.scenario} | {result.memory_mb:,} | {cells} |")
    return lines


def _ratio(was: float, now: float) -> str:
    return f"{now / was:.2f}x" if was > 0 else "-"
