"""Cold start: each handler module imported in a fresh interpreter, timed, and its memory read.

Every function of ``template.yaml`` is measured (its handler module, as Lambda imports it), next to
an interpreter that imports nothing. Wall time is what a cold start waits for; CPU time is the same
import with other processes' load mostly taken out, so on a shared machine it is the fairer figure
to hold against the goals.
"""

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

from bakery_gateway.constants import LAMBDA_FUNCTION_NAME_VARIABLE

GOAL_IMPORT_MS = {AUTHORIZER_MODULE: 200.0, PROXY_MODULE: 350.0}
GOAL_RSS_MIB = 100.0
BARE = "(nothing: bare interpreter)"

# The child measures its own import; the parent measures the whole process. RSS is read from
# /proc (VmRSS now, VmHWM the peak), not ru_maxrss: Linux carries ru_maxrss across exec, so a
# child would report the parent's peak.
COLD_START_CHILD = """
import importlib, json, resource, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
if sys.argv[1]:
    importlib.import_module(sys.argv[1])
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
try:
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    rss_kib, peak_kib = (int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM"))
except (OSError, KeyError, ValueError):
    rss_kib = peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_ms": elapsed * 1000, "cpu_ms": cpu * 1000, "rss_kib": rss_kib,
                  "peak_rss_kib": peak_kib}))
"""


@dataclass(frozen=True, slots=True)
class ColdStart:
    module: str
    import_ms: float
    cpu_ms: float
    process_ms: float
    rss_mib: float
    peak_rss_mib: float


def cold_start(module: str, environ: Mapping[str, str], runs: int) -> ColdStart:
    """Median of ``runs`` fresh interpreters importing ``module`` ('' imports nothing)."""
    _spawn(module, environ)  # once unmeasured, so bytecode caches exist as in a deployed package
    results = [_spawn(module, environ) for _ in range(runs)]

    def median(name: str) -> float:
        return statistics.median(result[name] for result in results)

    return ColdStart(
        module=module or BARE,
        import_ms=median("import_ms"),
        cpu_ms=median("cpu_ms"),
        process_ms=median("process_ms"),
        rss_mib=median("rss_kib") / 1024,
        peak_rss_mib=median("peak_rss_kib") / 1024,
    )


def _spawn(module: str, environ: Mapping[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD_START_CHILD, module],
        # As on Lambda: the library pauses garbage collection during the import there.
        env={**os.environ, **environ, LAMBDA_FUNCTION_NAME_VARIABLE: f"bench-{module or 'bare'}"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    process_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: float(value) for name, value in figures.items()} | {"process_ms": process_ms}


def versus_goal(result: ColdStart) -> str:
    goal = GOAL_IMPORT_MS.get(result.module)
    return f"{result.cpu_ms / goal:.2f}x of {goal:.0f} ms" if goal else "-"


def cold_start_table(results: Sequence[ColdStart], runs: int) -> list[str]:
    bare = results[0]
    lines = [
        f"Median of {runs} fresh interpreters each (after one unmeasured run that writes bytecode "
        f"caches). Goals: import ≤ {GOAL_IMPORT_MS[AUTHORIZER_MODULE]:.0f} ms (authorizer), "
        f"≤ {GOAL_IMPORT_MS[PROXY_MODULE]:.0f} ms (proxy), held against the import's CPU time; "
        f"RSS ≤ {GOAL_RSS_MIB:.0f} MiB after import for every function.",
        "",
        "| module | import wall ms | import CPU ms | process wall ms | wall - bare ms | RSS MiB | "
        "peak RSS MiB | import vs goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.module} | {result.import_ms:.1f} | {result.cpu_ms:.1f} | "
            f"{result.process_ms:.1f} | {result.process_ms - bare.process_ms:.1f} | "
            f"{result.rss_mib:.1f} | {result.peak_rss_mib:.1f} | {versus_goal(result)} |"
        )
    over = [result.module for result in results[1:] if result.rss_mib > GOAL_RSS_MIB]
    lines += ["", f"- over {GOAL_RSS_MIB:.0f} MiB RSS: {', '.join(over) if over else 'none'}"]
    return lines


def function_modules() -> list[str]:
    """The handler module of every function in ``template.yaml``, authorizer and proxy first."""
    from bakery_local.template import read_http_api

    modules = [spec.module for spec in read_http_api(REPO_ROOT / "template.yaml", {}).functions.values()]
    first = [module for module in (AUTHORIZER_MODULE, PROXY_MODULE) if module in modules]
    return first + [module for module in modules if module not in first]


def measure(args: argparse.Namespace, environ: Mapping[str, str]) -> list[ColdStart]:
    return [cold_start(module, environ, args.cold_runs) for module in ("", *function_modules())]
