"""Cold start: each handler module imported in a fresh interpreter, timed and its peak RSS read."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness import AUTHORIZER_MODULE, PROXY_MODULE, REPO_ROOT

GOAL_IMPORT_MS = {AUTHORIZER_MODULE: 250.0, PROXY_MODULE: 450.0}

# The child measures its own import; the parent measures the whole process. Peak RSS is VmHWM, not
# ru_maxrss: Linux carries ru_maxrss across exec, so a child would report the parent's peak.
COLD_START_CHILD = """
import importlib, json, resource, sys, time
started = time.perf_counter()
if sys.argv[1]:
    importlib.import_module(sys.argv[1])
elapsed = time.perf_counter() - started
try:
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    peak_kib = int(fields["VmHWM"].split()[0])
except (OSError, KeyError, ValueError):
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_ms": elapsed * 1000, "peak_rss_kib": peak_kib}))
"""


@dataclass(frozen=True, slots=True)
class ColdStart:
    module: str
    import_ms: float
    process_ms: float
    peak_rss_mib: float


def cold_start(module: str, environ: Mapping[str, str], runs: int) -> ColdStart:
    """Median of ``runs`` fresh interpreters importing ``module`` ('' imports nothing)."""
    _spawn(module, environ)  # once unmeasured, so bytecode caches exist as in a deployed package
    results = [_spawn(module, environ) for _ in range(runs)]
    return ColdStart(
        module=module or "(nothing: bare interpreter)",
        import_ms=statistics.median(result[0] for result in results),
        process_ms=statistics.median(result[1] for result in results),
        peak_rss_mib=statistics.median(result[2] for result in results) / 1024,
    )


def _spawn(module: str, environ: Mapping[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD_START_CHILD, module],
        env={**os.environ, **environ},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    process_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["import_ms"]), process_ms, float(figures["peak_rss_kib"])


def cold_start_table(results: Sequence[ColdStart], runs: int) -> list[str]:
    bare = results[0]
    lines = [
        f"Median of {runs} fresh interpreters each (after one unmeasured run that writes bytecode caches).",
        "",
        "| module | import ms | process wall ms | wall - bare ms | peak RSS MiB | import vs goal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        goal = GOAL_IMPORT_MS.get(result.module)
        versus = f"{result.import_ms / goal:.2f}x of {goal:.0f} ms" if goal else "-"
        lines.append(
            f"| {result.module} | {result.import_ms:.1f} | {result.process_ms:.1f} | "
            f"{result.process_ms - bare.process_ms:.1f} | {result.peak_rss_mib:.1f} | {versus} |"
        )
    return lines


def measure_cold_starts(args: argparse.Namespace, environ: Mapping[str, str]) -> list[str]:
    results = [
        cold_start(module, environ, args.cold_runs) for module in ("", AUTHORIZER_MODULE, PROXY_MODULE)
    ]
    return [
        "## Cold start: handler module import in a fresh interpreter",
        "",
        *cold_start_table(results, args.cold_runs),
        "",
    ]
