"""What the gateway adds to a request, and what each function costs at cold start.

Measured in one run, each figure next to a baseline measured in the same run (ratios, never asserts):

- per request: (a) a GET sent straight to a local stub service with an httpx client made by the
  proxy's own factory, and (b) the proxy handler invoked with an API Gateway (payload 2.0) event for
  the same GET, authorizer context present. Both run on the same event loop, interleaved in batches;
  (b) - (a) is the gateway's overhead. (b) is measured again with request logging at INFO.
- the authorizer handler on a claims-cache miss and hit, next to the bare RSA verify (the floor).
- the import time and resident memory of each handler module in a fresh interpreter, next to a
  fresh interpreter that imports nothing.

Real Redis (db 15; only the keys this run creates are deleted) and a stub service over loopback.

Run: ``.venv/bin/python bench/overhead.py [--iterations N] [--redis-host H] [--redis-port P]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import round_trips
from arms import (
    AUTH_HIT,
    AUTH_MISS,
    DIRECT,
    LOOP_ONLY,
    PROXY,
    PROXY_INFO,
    REDIS_TRIP,
    RSA_FLOOR,
    VERIFY_ONLY,
    RequestSetup,
    authorizer_arms,
    one_info_record,
    proxy_arms,
)
from cold_start import ColdStart, cold_start_table
from cold_start import measure as measure_cold
from harness import (
    BENCH_DIR,
    REDIS_DB,
    REPO_ROOT,
    RUN_ID,
    Harness,
    build_harness,
    code_version,
    delete_run_keys,
    free_port,
    function_environment,
    stub_service,
)
from profiling import profile_requests
from timing import Summary, run_interleaved, summarize, timing_table, warm_up

from bakery_local.dev_tokens import DevKeyPair

RESULTS_PATH = BENCH_DIR / "results" / "overhead.md"

GOAL_OVERHEAD_MS = 0.3


# --- report ---------------------------------------------------------------------------------------


def overhead_lines(summaries: Mapping[str, Summary]) -> list[str]:
    direct, proxy, info, trip, idle = (
        summaries[name] for name in (DIRECT, PROXY, PROXY_INFO, REDIS_TRIP, LOOP_ONLY)
    )
    added_median = proxy.median_ms - direct.median_ms
    redis_ms = trip.median_ms - idle.median_ms
    return [
        f"- added overhead (b - a): median **{added_median:.3f} ms**, "
        f"p99 {proxy.p99_ms - direct.p99_ms:.3f} ms; b/a = {proxy.median_ms / direct.median_ms:.2f}x "
        f"(median), {proxy.p99_ms / direct.p99_ms:.2f}x (p99)",
        f"- against the goal of {GOAL_OVERHEAD_MS} ms median: "
        f"{added_median / GOAL_OVERHEAD_MS:.2f}x of the goal",
        f"- one async Redis script round trip alone (r - l; the proxy's policy check makes one) is "
        f"{redis_ms:.3f} ms median: {redis_ms / added_median:.0%} of the added overhead",
        f"- request logging at INFO (b@INFO: one JSON record per request into /dev/null) adds "
        f"{info.median_ms - proxy.median_ms:.3f} ms median over b",
    ]


def authorizer_lines(summaries: Mapping[str, Summary]) -> list[str]:
    miss, hit, verify, floor = (
        summaries[name].median_ms for name in (AUTH_MISS, AUTH_HIT, VERIFY_ONLY, RSA_FLOOR)
    )
    return [
        f"- cache miss / RSA verify floor: **{miss / floor:.1f}x** (median; goal ≤ 2x); "
        f"miss - floor = {miss - floor:.3f} ms",
        "- the verification alone (JWS parse, `cryptography` verify, claim checks; no Redis) / floor: "
        f"**{verify / floor:.1f}x**; "
        f"the miss spends {miss - verify:.3f} ms besides it (Redis lookup + store, handler, metrics)",
        f"- cache hit / RSA verify floor: {hit / floor:.1f}x (median); hit / miss = {hit / miss:.2f}x",
    ]


def header_lines(
    args: argparse.Namespace, loop: asyncio.AbstractEventLoop, load: tuple[float, float]
) -> list[str]:
    return [
        "# Gateway overhead benchmark",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs; event loop {type(loop).__name__} (the handler's); "
        f"Redis {args.redis_host}:{args.redis_port} db {REDIS_DB}; stub: uvicorn + uvloop + httptools "
        "in its own process, over loopback.",
        "",
        f"Code: {code_version()}.",
        "",
        f"1-minute load average {load[0]:.2f} at the start, {load[1]:.2f} at the end: anything else "
        "running on the machine shows up in these figures.",
        "",
        "Request logging at **WARNING** (`LOG_LEVEL=WARNING` set before import) except the `b@INFO` row.",
        "",
    ]


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000, help="timed calls per proxy arm")
    parser.add_argument("--auth-iterations", type=int, default=1000, help="timed calls per authorizer arm")
    parser.add_argument("--batch", type=int, default=250, help="calls per arm before switching arms")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh interpreters per module")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--profile", action="store_true", help="also cProfile the proxy arm")
    args = parser.parse_args(argv)
    if min(args.iterations, args.auth_iterations, args.batch, args.cold_runs) < 1:
        parser.error("counts must be positive")
    return args


@dataclass(frozen=True)
class Measured:
    """One run's figures: the report's sections and the numbers the suite's table reads."""

    report: list[str]
    requests: dict[str, Summary]
    authorizer: dict[str, Summary]
    cold_starts: list[ColdStart]
    redis_round_trips: float
    load: tuple[float, float]


def measure_requests(
    args: argparse.Namespace, harness: Harness, bench_redis: redis.Redis
) -> tuple[list[str], RequestSetup, dict[str, Summary], float]:
    setup = proxy_arms(harness)
    warm_up(setup.arms, 300)
    proxy_arm = next(arm for arm in setup.arms if arm.name == PROXY)
    cost = round_trips.measure(bench_redis, proxy_arm.call)
    samples = run_interleaved(setup.arms, args.iterations, args.batch)
    summaries = {name: summarize(values) for name, values in samples.items()}
    record = one_info_record(harness, setup.event)
    lines = ["## Per request: proxy handler vs direct GET", "", *timing_table(summaries), ""]
    lines += overhead_lines(summaries)
    lines += [
        f"- (a) sends the {len(setup.downstream_headers)} headers the proxy sends downstream, to the "
        "same URL, with a client from the proxy's own factory, on the same loop; each call is one "
        "run_until_complete, as each invocation of the proxy's handler is",
        f"- Redis per proxied request (token, tenant, every policy on): "
        f"**{cost.round_trips_per_request:g} round trip(s)**, {cost.per_request('evalsha'):g} EVALSHA; "
        "inside the script, per request: "
        + ", ".join(
            f"{name.upper()} x{cost.per_request(name):g}"
            for name in sorted(cost.commands)
            if name != "evalsha"
        ),
        f"- one INFO request record is {len(record)} bytes of JSON",
        f"- the proxy's application/json answer is base64-encoded: {setup.body_base64}",
        "",
    ]
    return lines, setup, summaries, cost.round_trips_per_request


def measure_authorizer(args: argparse.Namespace, harness: Harness) -> tuple[list[str], dict[str, Summary]]:
    arms = authorizer_arms(harness, args.auth_iterations + 50)
    warm_up(arms, 50)  # consumes 50 of the fresh tokens and their verify inputs
    before = cache_counts()
    samples = run_interleaved(arms, args.auth_iterations, min(args.batch, 100))
    hits, misses = (after - earlier for after, earlier in zip(cache_counts(), before, strict=True))
    summaries = {name: summarize(s) for name, s in samples.items()}
    return [
        "## Authorizer per call (real Redis)",
        "",
        *timing_table(summaries),
        "",
        *authorizer_lines(summaries),
        f"- the authorizer counted {hits:.0f} cache hits and {misses:.0f} misses during the run "
        f"(expected {args.auth_iterations} each; fewer hits means something flushed db {REDIS_DB})",
        "",
    ], summaries


def cache_counts() -> tuple[float, float]:
    from bakery_gateway.telemetry.observability import registry

    hits = registry.get_sample_value("gateway_auth_cache_hits_total") or 0.0
    misses = registry.get_sample_value("gateway_auth_cache_misses_total") or 0.0
    return hits, misses


def measure(args: argparse.Namespace) -> Measured:
    """Cold starts, then the per-request and authorizer arms against a stub service and real Redis."""
    load_at_start = os.getloadavg()[0]
    bench_redis = redis.Redis(host=args.redis_host, port=args.redis_port, db=REDIS_DB)
    bench_redis.ping()
    keys = DevKeyPair.generate()
    port = free_port()
    environ = function_environment(args.redis_host, args.redis_port, keys, f"http://127.0.0.1:{port}")
    os.environ.update(environ)  # before any bakery_gateway import: settings and logger read it then
    cold_starts = measure_cold(args, environ)
    cold_lines = [
        "## Cold start: handler module import in a fresh interpreter",
        "",
        *cold_start_table(cold_starts, args.cold_runs),
        "",
    ]
    with stub_service(port) as stub_url:
        harness = build_harness(keys, stub_url)
        try:
            request_lines, setup, requests, round_trips_per_request = measure_requests(
                args, harness, bench_redis
            )
            auth_lines, authorizer = measure_authorizer(args, harness)
            profiled = profile_requests(setup, min(args.iterations, 2000)) if args.profile else []
        finally:
            harness.loop.run_until_complete(harness.client.aclose())
            deleted = delete_run_keys(bench_redis, harness.tokens)
    load = (load_at_start, os.getloadavg()[0])
    report = [*header_lines(args, harness.loop, load), *request_lines, *auth_lines, *cold_lines]
    if profiled:
        report += ["## Profile: where (b) spends more than (a)", "", *profiled, ""]
    report.append(
        f"Cleanup: deleted {deleted} keys this run created in Redis db {REDIS_DB} (run id {RUN_ID})."
    )
    return Measured(report, requests, authorizer, cold_starts, round_trips_per_request, load)


def main(argv: Sequence[str] | None = None) -> int:
    measured = measure(parse_args(argv))
    text = "\n".join(measured.report) + "\n"
    print(text)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(text)
    print(f"(written to {RESULTS_PATH.relative_to(REPO_ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
