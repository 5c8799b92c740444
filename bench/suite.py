"""The benchmark suite (`make bench`): issue 9's figures in one run, as one table against the goals.

1. added latency per request in-process, every policy on: median, p99, Redis round trips;
2. the authorizer on a claims-cache miss against the bare RSA verify of the same token;
3. cold start of every function: import time (wall and CPU) and RSS after import;
6. billed cost per million client requests, from the durations of 1 and 2 and the template's MemorySize.

The measuring is ``overhead.py``'s (its full report goes to ``results/overhead.md``); this adds the
cost, and appends one section per run to ``results/suite.md``. Prints, never asserts.

Run: ``.venv/bin/python bench/suite.py [overhead.py's arguments]``
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import overhead
from arms import AUTH_HIT, AUTH_MISS, DIRECT, PROXY, RSA_FLOOR, VERIFY_ONLY
from cold_start import GOAL_IMPORT_MS, GOAL_RSS_MIB, ColdStart
from cost import Bill, Invocation, bill_table, price_lines
from harness import AUTHORIZER_MODULE, BENCH_DIR, PROXY_MODULE, REPO_ROOT, code_version
from results_table import Row, RunHeader, append_run, cpu_description, render_run

SUITE_PATH = BENCH_DIR / "results" / "suite.md"
GOAL_P99_MS = 1.0
GOAL_ROUND_TRIPS = 1
GOAL_AUTH_RATIO = 2.0


def function_memory() -> dict[str, int]:
    """Configured MemorySize (MB) of each handler module, as ``template.yaml`` resolves it by default."""
    from bakery_local.template import read_http_api

    functions = read_http_api(REPO_ROOT / "template.yaml", {}).functions.values()
    return {spec.module: spec.memory_mb for spec in functions}


def request_rows(measured: overhead.Measured) -> list[Row]:
    direct, proxy = measured.requests[DIRECT], measured.requests[PROXY]
    added_median, added_p99 = proxy.median_ms - direct.median_ms, proxy.p99_ms - direct.p99_ms
    baseline = f"direct GET {direct.median_ms:.3f} / {direct.p99_ms:.3f} ms (median / p99)"
    return [
        Row("1", "added latency, median", f"{added_median:.3f} ms", f"≤ {overhead.GOAL_OVERHEAD_MS} ms",
            added_median <= overhead.GOAL_OVERHEAD_MS, baseline),
        Row("1", "added latency, p99", f"{added_p99:.3f} ms", f"≤ {GOAL_P99_MS:g} ms",
            added_p99 <= GOAL_P99_MS, f"proxy handler {proxy.median_ms:.3f} / {proxy.p99_ms:.3f} ms"),
        Row("1", "Redis round trips per request", f"{measured.redis_round_trips:g}",
            f"exactly {GOAL_ROUND_TRIPS}", measured.redis_round_trips == GOAL_ROUND_TRIPS,
            "client-side sends, every policy on"),
    ]  # fmt: skip


def authorizer_rows(measured: overhead.Measured) -> list[Row]:
    summaries = measured.authorizer
    miss, verify, floor = (summaries[name].median_ms for name in (AUTH_MISS, VERIFY_ONLY, RSA_FLOOR))
    return [
        Row("2", "authorizer, cache miss / RSA verify", f"{miss / floor:.1f}x", f"≤ {GOAL_AUTH_RATIO:g}x",
            miss / floor <= GOAL_AUTH_RATIO, f"miss {miss:.3f} ms, floor {floor:.3f} ms (median)"),
        Row("2", "token verification alone / RSA verify", f"{verify / floor:.1f}x",
            f"≤ {GOAL_AUTH_RATIO:g}x", verify / floor <= GOAL_AUTH_RATIO,
            f"TokenVerifier.verify {verify:.3f} ms: signature (cryptography) + claim checks, no Redis"),
    ]  # fmt: skip


def cold_start_rows(results: Sequence[ColdStart]) -> list[Row]:
    bare, *functions = results
    rows = [Row("3", "bare interpreter", f"{bare.process_ms:.0f} ms wall, {bare.rss_mib:.1f} MiB")]
    for result in functions:
        goal = GOAL_IMPORT_MS.get(result.module)
        name = result.module.removeprefix("bakery_functions.").removesuffix(".app")
        rows.append(
            Row("3", f"{name}: import CPU", f"{result.cpu_ms:.0f} ms", f"≤ {goal:.0f} ms" if goal else "-",
                None if goal is None else result.cpu_ms <= goal, f"wall {result.import_ms:.0f} ms")
        )  # fmt: skip
        rows.append(
            Row("3", f"{name}: RSS after import", f"{result.rss_mib:.1f} MiB", f"≤ {GOAL_RSS_MIB:.0f} MiB",
                result.rss_mib <= GOAL_RSS_MIB, f"peak {result.peak_rss_mib:.1f} MiB")
        )  # fmt: skip
    return rows


def bills(measured: overhead.Measured, memory: dict[str, int]) -> list[tuple[str, Bill]]:
    """Per million client requests: the proxy on every request, the authorizer as often as it runs."""
    summaries = measured.authorizer
    proxy_ms = measured.requests[PROXY].median_ms
    proxy = Invocation("proxy", proxy_ms, memory[PROXY_MODULE])
    hit = Invocation(
        "authorizer (claims-cache hit)", summaries[AUTH_HIT].median_ms, memory[AUTHORIZER_MODULE]
    )
    miss = Invocation("authorizer (cache miss)", summaries[AUTH_MISS].median_ms, memory[AUTHORIZER_MODULE])
    return [
        ("A: verdict cached by API Gateway", Bill((proxy,))),
        ("B: authorizer per request, claims cached", Bill((proxy, hit))),
        ("C: authorizer per request, every token new", Bill((proxy, miss))),
    ]


def cost_rows(scenarios: list[tuple[str, Bill]]) -> list[Row]:
    return [
        Row("6", f"cost per million requests, {name}", f"${bill.total_usd():.3f}", note=(
            f"Lambda ${bill.lambda_usd():.3f} (GB-s "
            f"{sum(item.gb_seconds_per_million() for item in bill.invocations):,.0f}), "
            f"HTTP API ${bill.api_gateway_usd():.2f}"))
        for name, bill in scenarios
    ]  # fmt: skip


def cost_section(scenarios: list[tuple[str, Bill]]) -> list[str]:
    return [
        "## Billed cost per million client requests",
        "",
        *price_lines(),
        "",
        "Durations are this run's in-process medians (the proxy's includes its call to the loopback "
        "stub service; a real service's latency is billed on top). Lambda rounds each up to 1 ms.",
        "",
        *bill_table(scenarios),
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = overhead.parse_args(argv)
    started = datetime.now(UTC)
    measured = overhead.measure(args)
    scenarios = bills(measured, function_memory())
    report = [*measured.report[:-1], *cost_section(scenarios), measured.report[-1]]
    rows = [
        *request_rows(measured),
        *authorizer_rows(measured),
        *cold_start_rows(measured.cold_starts),
        *cost_rows(scenarios),
    ]
    header = RunHeader(
        started_utc=f"{started:%Y-%m-%d %H:%M}",
        load_start=measured.load[0],
        load_end=os.getloadavg()[0],
        cpu=cpu_description(),
        python=platform.python_version(),
        code=code_version(),
    )
    section = render_run(header, rows)
    print("\n".join(report) + "\n")
    print(section)
    write(overhead.RESULTS_PATH, "\n".join(report) + "\n")
    append_run(SUITE_PATH, section)
    print(
        f"(written to {SUITE_PATH.relative_to(REPO_ROOT)} and {overhead.RESULTS_PATH.relative_to(REPO_ROOT)})"
    )
    return 0


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
