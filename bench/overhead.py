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
import base64
import cProfile
import importlib
import io
import json
import logging
import os
import platform
import pstats
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import redis
from bakery_local.dev_tokens import DevKeyPair
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_PATH = BENCH_DIR / "results" / "overhead.md"
STUB_SCRIPT = BENCH_DIR / "stub_service.py"

REDIS_DB = 15
AUTHORIZER_MODULE = "bakery_functions.authorizer.app"
PROXY_MODULE = "bakery_functions.proxy.app"
REQUEST_PATH = "/api/v1/sales/items"
ECHO_PATH = "/api/v1/sales/__echo_headers"
ROUTE_KEY = "ANY /api/v1/{proxy+}"
SOURCE_IP = "203.0.113.7"
DOMAIN = "api.bakery.example"

GOAL_OVERHEAD_MS = 0.3
GOAL_IMPORT_MS = {AUTHORIZER_MODULE: 250.0, PROXY_MODULE: 450.0}

# The child measures its own import; the parent measures the whole process.
COLD_START_CHILD = """
import importlib, json, resource, sys, time
started = time.perf_counter()
if sys.argv[1]:
    importlib.import_module(sys.argv[1])
elapsed = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_ms": elapsed * 1000, "maxrss_kib": rss}))
"""


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


# --- environment, Redis, stub service -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def function_environment(redis_host: str, redis_port: int, keys: DevKeyPair, stub_url: str) -> dict[str, str]:
    """What the functions read at import; request logging at WARNING so it does not flood stdout."""
    return {
        "ENVIRONMENT": "bench",
        "LOG_LEVEL": "WARNING",
        "REDIS_HOST": redis_host,
        "REDIS_PORT": str(redis_port),
        "REDIS_DB": str(REDIS_DB),
        "JWT_PUBLIC_KEYS": keys.public_keys_json,
        "SALES_SERVICE_URL": stub_url,
    }


@contextmanager
def stub_service(port: int) -> Iterator[str]:
    """The stub service in its own process (its own GIL), listening on loopback."""
    process = subprocess.Popen(
        [sys.executable, str(STUB_SCRIPT), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the stub service exited: {error}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the stub service did not listen on port {port} within {timeout} s")


def delete_claims_keys(client: redis.Redis, tokens: Sequence[str]) -> int:
    """Delete the claims-cache keys the authorizer stored for ``tokens``; nothing else."""
    from bakery_gateway.redis_keys import claims_cache_key

    deleted = 0
    for start in range(0, len(tokens), 500):
        keys = [claims_cache_key(token) for token in tokens[start : start + 500]]
        deleted += int(client.delete(*keys))
    return deleted


# --- events ---------------------------------------------------------------------------------------


def authorizer_event(token: str) -> dict[str, Any]:
    """An HTTP API (payload 2.0) REQUEST authorizer event for a GET of ``REQUEST_PATH``."""
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:eu-west-1:123456789012:bench/$default/GET/api/v1/sales/items",
        "identitySource": [f"Bearer {token}"],
        "routeKey": ROUTE_KEY,
        "rawPath": REQUEST_PATH,
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}", "host": DOMAIN},
        "requestContext": {"http": {"method": "GET", "path": REQUEST_PATH, "sourceIp": SOURCE_IP}},
    }


def proxy_event(token: str, context: Mapping[str, Any], path: str = REQUEST_PATH) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for a GET of ``path``, as API Gateway sends it to the proxy."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "accept-encoding": "gzip, deflate",
            "authorization": f"Bearer {token}",
            "host": DOMAIN,
            "user-agent": "bakery-bench/1.0",
            "x-forwarded-for": SOURCE_IP,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "authorizer": {"lambda": dict(context)},
            "domainName": DOMAIN,
            "domainPrefix": "api",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": "bakery-bench/1.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": ROUTE_KEY,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {"proxy": path.removeprefix("/api/v1/")},
        "isBase64Encoded": False,
    }


# --- logging switches ---------------------------------------------------------------------------


def _request_log_handler() -> logging.StreamHandler[Any]:
    from bakery_gateway.observability import logger

    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise RuntimeError(f"unexpected log handler {handler!r}")
    return handler


@contextmanager
def request_logging_at_info(sink: Any) -> Iterator[None]:
    """Request logging at INFO into ``sink`` for the duration; back to WARNING on stdout after."""
    from bakery_gateway.observability import logger

    handler = _request_log_handler()
    previous = handler.setStream(sink)
    logger.setLevel("INFO")
    try:
        yield
    finally:
        logger.setLevel("WARNING")
        handler.setStream(previous or sys.stdout)


@contextmanager
def info_into_devnull() -> Iterator[None]:
    with open(os.devnull, "w") as sink, request_logging_at_info(sink):
        yield


# --- per-request measurements -------------------------------------------------------------------


@dataclass
class Harness:
    """Everything the per-request arms share, set up once."""

    loop: asyncio.AbstractEventLoop
    authorizer: ModuleType
    proxy: ModuleType
    keys: DevKeyPair
    client: httpx.AsyncClient
    stub_url: str
    tokens: list[str] = field(default_factory=list)

    def authorize(self, token: str) -> dict[str, Any]:
        self.tokens.append(token)
        answer: dict[str, Any] = self.authorizer.handler(authorizer_event(token), None)
        return answer

    def mint(self) -> str:
        return self.keys.mint(user_id="bench-user", tenant_id="bench-tenant")


def build_harness(keys: DevKeyPair, stub_url: str) -> Harness:
    """Import both handlers in this process (the environment is set) and the baseline client."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # Mangum runs each invocation on this thread's loop: the same one
    authorizer = importlib.import_module(AUTHORIZER_MODULE)
    proxy = importlib.import_module(PROXY_MODULE)
    from bakery_gateway.clients import http_client_factory

    client = http_client_factory(proxy.settings)()
    return Harness(loop, authorizer, proxy, keys, client, stub_url)


def downstream_headers_of_proxy(
    harness: Harness, token: str, context: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The headers the proxy sends downstream for our event, echoed by the stub (host excluded)."""
    answer = harness.proxy.handler(proxy_event(token, context, ECHO_PATH), None)
    if answer["statusCode"] != 200:
        raise RuntimeError(f"the proxy answered {answer['statusCode']}: {answer.get('body')}")
    print(answer)
    return [(name, value) for name, value in json.loads(answer["body"]) if name != "host"]


def proxy_arms(harness: Harness) -> tuple[list[Arm], dict[str, Any], list[tuple[str, str]]]:
    token = harness.mint()
    verdict = harness.authorize(token)
    if verdict["context"].get("authenticated") is not True:
        raise RuntimeError(f"the authorizer refused the bench token: {verdict['context']}")
    event = proxy_event(token, verdict["context"])
    headers = downstream_headers_of_proxy(harness, token, verdict["context"])
    url = harness.stub_url + REQUEST_PATH
    loop, client, handler = harness.loop, harness.client, harness.proxy.handler

    def direct() -> bool:
        return loop.run_until_complete(client.get(url, headers=headers)).status_code == 200

    def through_proxy() -> bool:
        return bool(handler(event, None)["statusCode"] == 200)

    arms = [
        Arm("a: direct httpx GET", direct),
        Arm("b: proxy handler", through_proxy),
        Arm("b@INFO: proxy handler, log to devnull", through_proxy, info_into_devnull),
    ]
    return arms, event, headers


def one_info_record(harness: Harness, event: dict[str, Any]) -> str:
    """The request log record the proxy writes at INFO for one call."""
    sink = io.StringIO()
    with request_logging_at_info(sink):
        harness.proxy.handler(event, None)
    return sink.getvalue().strip()


# --- authorizer measurements --------------------------------------------------------------------


def authorizer_arms(harness: Harness, iterations: int) -> list[Arm]:
    """Cache miss (a fresh token per call), cache hit (one token), and the bare RSA verify."""
    fresh = [harness.mint() for _ in range(iterations)]
    harness.tokens.extend(fresh)
    miss_events = iter([authorizer_event(token) for token in fresh])
    hit_token = harness.mint()
    harness.authorize(hit_token)  # stores its claims: every later call is a hit
    hit_event = authorizer_event(hit_token)
    floor_inputs = iter([_signature_parts(token) for token in fresh])
    public_key = serialization.load_pem_public_key(harness.keys.public_pem)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise RuntimeError("the dev key pair is not RSA")
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    handler = harness.authorizer.handler

    def miss() -> bool:
        return bool(handler(next(miss_events), None)["context"]["authenticated"] is True)

    def hit() -> bool:
        return bool(handler(hit_event, None)["context"]["authenticated"] is True)

    def floor() -> bool:
        signing_input, signature = next(floor_inputs)
        public_key.verify(signature, signing_input, pkcs1, sha256)
        return True

    return [
        Arm("authorizer, cache miss", miss),
        Arm("authorizer, cache hit", hit),
        Arm("floor: cryptography RSA verify", floor),
    ]


def _signature_parts(token: str) -> tuple[bytes, bytes]:
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


# --- cold start -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColdStart:
    module: str
    import_ms: float
    process_ms: float
    maxrss_mib: float


def cold_start(module: str, environ: Mapping[str, str], runs: int) -> ColdStart:
    """Median of ``runs`` fresh interpreters importing ``module`` ('' imports nothing)."""
    _spawn(module, environ)  # once unmeasured, so bytecode caches exist as in a deployed package
    results = [_spawn(module, environ) for _ in range(runs)]
    return ColdStart(
        module=module or "(nothing: bare interpreter)",
        import_ms=statistics.median(result[0] for result in results),
        process_ms=statistics.median(result[1] for result in results),
        maxrss_mib=statistics.median(result[2] for result in results) / 1024,
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
    return float(figures["import_ms"]), process_ms, float(figures["maxrss_kib"])


# --- profile (optional) ---------------------------------------------------------------------------

CATEGORIES = (
    ("bakery_gateway", "ours"),
    ("bakery_functions", "ours"),
    ("/functions/", "ours"),
    ("mangum", "Mangum"),
    ("fastapi", "FastAPI/Starlette"),
    ("starlette", "FastAPI/Starlette"),
    ("httpx", "httpx/httpcore/h11"),
    ("httpcore", "httpx/httpcore/h11"),
    ("/h11/", "httpx/httpcore/h11"),
    ("anyio", "anyio/sniffio"),
    ("sniffio", "anyio/sniffio"),
    ("redis", "redis"),
    ("aws_lambda_powertools", "powertools logger"),
    ("/logging/", "powertools logger"),
    ("prometheus_client", "prometheus_client"),
    ("asyncio", "asyncio"),
)


def category_of(filename: str) -> str:
    for marker, category in CATEGORIES:
        if marker in filename:
            return category
    return "C builtins" if filename == "~" else "other stdlib/libs"


def profile_proxy(arm: Arm, calls: int, top: int = 10) -> list[str]:
    """cProfile ``calls`` proxy invocations: own time by category and the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        arm.call()
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_category: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, own, _cum, _callers) in stats.items():
        by_category[category_of(filename)] = by_category.get(category_of(filename), 0.0) + own
    total = sum(by_category.values())
    lines = [f"cProfile, {calls} proxy calls, own time per call (profiler inflates small calls):", ""]
    lines += ["| category | µs/call | share |", "|---|---:|---:|"]
    for category, own in sorted(by_category.items(), key=lambda item: -item[1]):
        lines.append(f"| {category} | {own / calls * 1e6:.1f} | {own / total:.0%} |")
    lines += ["", "| function (own time) | category | µs/call | calls/request |", "|---|---|---:|---:|"]
    ranked = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    for (filename, line, name), (_cc, count, own, _cum, _callers) in ranked:
        where = f"{Path(filename).name}:{line} {name}" if filename != "~" else name
        lines.append(
            f"| `{where}` | {category_of(filename)} | {own / calls * 1e6:.1f} | {count / calls:.1f} |"
        )
    return lines


# --- report ---------------------------------------------------------------------------------------


def timing_table(summaries: Mapping[str, Summary]) -> list[str]:
    lines = ["| measurement | n | median ms | p90 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for name, summary in summaries.items():
        lines.append(
            f"| {name} | {summary.count} | {summary.median_ms:.3f} | {summary.p90_ms:.3f} | {summary.p99_ms:.3f} |"
        )
    return lines


def overhead_lines(direct: Summary, proxy: Summary, proxy_info: Summary) -> list[str]:
    added_median = proxy.median_ms - direct.median_ms
    added_p99 = proxy.p99_ms - direct.p99_ms
    info_cost = proxy_info.median_ms - proxy.median_ms
    return [
        f"- added overhead (b - a): median **{added_median:.3f} ms**, p99 {added_p99:.3f} ms; "
        f"b/a = {proxy.median_ms / direct.median_ms:.2f}x (median), {proxy.p99_ms / direct.p99_ms:.2f}x (p99)",
        f"- against the goal of {GOAL_OVERHEAD_MS} ms median: {added_median / GOAL_OVERHEAD_MS:.2f}x of the goal",
        f"- request logging at INFO (one JSON record per request, into /dev/null) adds "
        f"{info_cost:.3f} ms median (b@INFO - b)",
    ]


def authorizer_lines(summaries: Mapping[str, Summary]) -> list[str]:
    miss, hit, floor = (summaries[name].median_ms for name in summaries)
    return [
        f"- cache miss / RSA verify floor: {miss / floor:.1f}x (median); miss - floor = {miss - floor:.3f} ms",
        f"- cache hit / RSA verify floor: {hit / floor:.1f}x (median); hit / miss = {hit / miss:.2f}x",
    ]


def cold_start_table(results: Sequence[ColdStart], runs: int) -> list[str]:
    bare = results[0]
    lines = [
        f"Median of {runs} fresh interpreters each (after one unmeasured run that writes bytecode caches).",
        "",
        "| module | import ms | process wall ms | wall - bare ms | max RSS MiB | import vs goal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        goal = GOAL_IMPORT_MS.get(result.module)
        versus = f"{result.import_ms / goal:.2f}x of {goal:.0f} ms" if goal else "-"
        lines.append(
            f"| {result.module} | {result.import_ms:.1f} | {result.process_ms:.1f} | "
            f"{result.process_ms - bare.process_ms:.1f} | {result.maxrss_mib:.1f} | {versus} |"
        )
    return lines


def header_lines(args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> list[str]:
    return [
        "# Gateway overhead benchmark",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs; event loop {type(loop).__name__} (Mangum's); "
        f"Redis {args.redis_host}:{args.redis_port} db {REDIS_DB}; stub: uvicorn + uvloop + httptools "
        "in its own process, over loopback.",
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


def warm_up(arms: Sequence[Arm], calls: int) -> None:
    for arm in arms:
        for _ in range(calls):
            arm.call()


def measure_requests(args: argparse.Namespace, harness: Harness) -> tuple[list[str], Arm]:
    arms, event, headers = proxy_arms(harness)
    warm_up(arms, 300)
    summaries = {name: summarize(s) for name, s in run_interleaved(arms, args.iterations, args.batch).items()}
    record = one_info_record(harness, event)
    lines = ["## Per request: proxy handler vs direct GET", ""]
    lines += timing_table(summaries) + [""]
    lines += overhead_lines(*summaries.values())
    lines += [
        f"- (a) sends the {len(headers)} headers the proxy sends downstream, to the same URL, with a "
        "client from the proxy's own factory, on the same loop; each call is one run_until_complete",
        f"- one INFO request record is {len(record)} bytes of JSON",
        "",
    ]
    return lines, arms[1]


def measure_authorizer(args: argparse.Namespace, harness: Harness) -> list[str]:
    arms = authorizer_arms(harness, args.auth_iterations + 50)
    warm_up(arms, 50)  # consumes 50 of the fresh tokens and their verify inputs
    samples = run_interleaved(arms, args.auth_iterations, min(args.batch, 100))
    summaries = {name: summarize(s) for name, s in samples.items()}
    lines = ["## Authorizer handler per call (real Redis)", ""]
    lines += timing_table(summaries) + [""]
    lines += authorizer_lines(summaries) + [""]
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    bench_redis = redis.Redis(host=args.redis_host, port=args.redis_port, db=REDIS_DB)
    bench_redis.ping()
    keys = DevKeyPair.generate()
    port = free_port()
    environ = function_environment(args.redis_host, args.redis_port, keys, f"http://127.0.0.1:{port}")
    os.environ.update(environ)  # before any bakery_gateway import: settings and logger read it then
    cold_lines = measure_cold_starts(args, environ)
    with stub_service(port) as stub_url:
        harness = build_harness(keys, stub_url)
        try:
            request_lines, proxy_arm = measure_requests(args, harness)
            auth_lines = measure_authorizer(args, harness)
            profile_lines = profile_proxy(proxy_arm, min(args.iterations, 2000)) if args.profile else []
        finally:
            harness.loop.run_until_complete(harness.client.aclose())
            deleted = delete_claims_keys(bench_redis, harness.tokens)
    report = [*header_lines(args, harness.loop), *request_lines, *auth_lines, *cold_lines]
    if profile_lines:
        report += ["## Profile of (b)", "", *profile_lines, ""]
    report.append(f"Cleanup: deleted {deleted} claims-cache keys this run created in Redis db {REDIS_DB}.")
    text = "\n".join(report) + "\n"
    print(text)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(text)
    print(f"(written to {RESULTS_PATH.relative_to(REPO_ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
