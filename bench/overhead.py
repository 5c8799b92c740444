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
import shutil
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
import round_trips
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bakery_local.dev_tokens import DevKeyPair

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

UNREACHABLE_LIMIT = 1_000_000_000
# In every id this run puts in a token, so its Redis keys can be found and deleted afterwards.
RUN_ID = uuid.uuid4().hex[:12]

GOAL_OVERHEAD_MS = 0.3
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
    """What the functions read at import; request logging at WARNING so it does not flood stdout.

    The stub is every service, the tenant service's subscription lookup included; rate limits are
    set out of reach, so every request runs the whole policy check and none is refused.
    """
    return {
        "ENVIRONMENT": "bench",
        "LOG_LEVEL": "WARNING",
        "REDIS_HOST": redis_host,
        "REDIS_PORT": str(redis_port),
        "REDIS_DB": str(REDIS_DB),
        "JWT_PUBLIC_KEYS": keys.public_keys_json,
        "SALES_SERVICE_URL": stub_url,
        "TENANT_SERVICE_URL": stub_url,
        "RATE_LIMIT_REQUESTS": str(UNREACHABLE_LIMIT),
        "RATE_LIMIT_TENANT_REQUESTS": str(UNREACHABLE_LIMIT),
    }


@contextmanager
def stub_service(port: int) -> Iterator[str]:
    """The stub service in its own process (its own GIL), listening on loopback."""
    process = subprocess.Popen(
        [sys.executable, str(STUB_SCRIPT), "--port", str(port), "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdin:
            process.stdin.close()


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


def delete_run_keys(client: redis.Redis, tokens: Sequence[str]) -> int:
    """Delete the keys this run created: claims cached for its tokens, and any key naming its ids."""
    from bakery_gateway.redis_keys import claims_cache_key

    keys = [claims_cache_key(token) for token in tokens]
    keys += [key for key in client.scan_iter(match=f"*{RUN_ID}*", count=1000)]
    deleted = 0
    for start in range(0, len(keys), 500):
        deleted += int(client.delete(*keys[start : start + 500]))
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
        return str(self.keys.mint(user_id=f"bench-user-{RUN_ID}", tenant_id=f"bench-tenant-{RUN_ID}"))


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
    body = answer["body"]
    if answer.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return [(name, value) for name, value in json.loads(body) if name != "host"]


DIRECT, PROXY, PROXY_INFO = "a: direct httpx GET", "b: proxy handler", "b@INFO"
REDIS_TRIP, LOOP_ONLY = "r: one async Redis EVALSHA", "l: run_until_complete(no-op)"


@dataclass(frozen=True)
class RequestSetup:
    arms: list[Arm]
    event: dict[str, Any]
    downstream_headers: list[tuple[str, str]]
    body_base64: bool  # whether the proxy's JSON answer came back base64-encoded


def proxy_arms(harness: Harness) -> RequestSetup:
    """(a) direct GET, (b) proxy handler, (b) at INFO; references: one Redis script call, an idle loop."""
    token = harness.mint()
    verdict = harness.authorize(token)
    if verdict["context"].get("authenticated") is not True:
        raise RuntimeError(f"the authorizer refused the bench token: {verdict['context']}")
    event = proxy_event(token, verdict["context"])
    headers = downstream_headers_of_proxy(harness, token, verdict["context"])
    url = harness.stub_url + REQUEST_PATH
    loop, client, handler = harness.loop, harness.client, harness.proxy.handler
    from bakery_gateway.clients import async_redis_factory

    redis_client = async_redis_factory(harness.proxy.settings.redis)()
    script = redis_client.register_script("return redis.call('EXISTS', KEYS[1])")
    key = f"gw:bench:{RUN_ID}"

    def direct() -> bool:
        return loop.run_until_complete(client.get(url, headers=headers)).status_code == 200

    def through_proxy() -> bool:
        return bool(handler(event, None)["statusCode"] == 200)

    def redis_trip() -> bool:
        return bool(loop.run_until_complete(script(keys=[key])) == 0)

    def loop_only() -> bool:
        return loop.run_until_complete(asyncio.sleep(0)) is None

    arms = [
        Arm(DIRECT, direct),
        Arm(PROXY, through_proxy),
        Arm(PROXY_INFO, through_proxy, info_into_devnull),
        Arm(REDIS_TRIP, redis_trip),
        Arm(LOOP_ONLY, loop_only),
    ]
    body_base64 = bool(handler(event, None).get("isBase64Encoded"))
    return RequestSetup(arms, event, headers, body_base64)


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


ProfileKey = tuple[str, int, str]


@dataclass(frozen=True)
class Profile:
    """Own time (µs per call) and call count (per call) of each function over ``calls`` calls."""

    own_us: dict[ProfileKey, float]
    count: dict[ProfileKey, float]


def profile_arm(arm: Arm, calls: int) -> Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        arm.call()
    profiler.disable()
    raw: dict[ProfileKey, tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return Profile(
        own_us={key: row[2] / calls * 1e6 for key, row in raw.items()},
        count={key: row[1] / calls for key, row in raw.items()},
    )


def by_category(profile: Profile) -> dict[str, float]:
    totals: dict[str, float] = {}
    for (filename, _line, _name), own in profile.own_us.items():
        totals[category_of(filename)] = totals.get(category_of(filename), 0.0) + own
    return totals


def profile_lines(direct: Profile, proxy: Profile, calls: int, top: int = 10) -> list[str]:
    """Own time per call by category for (a) and (b), and the functions (b) adds the most own time in."""
    direct_totals, proxy_totals = by_category(direct), by_category(proxy)
    lines = [
        f"cProfile, {calls} calls of each arm; own time in µs per call. The profiler inflates code that"
        " makes many small calls, so read the shares, not the absolute figures.",
        "",
        "| category | (a) direct | (b) proxy | (b) - (a) |",
        "|---|---:|---:|---:|",
    ]
    for category in sorted(proxy_totals, key=lambda name: direct_totals.get(name, 0.0) - proxy_totals[name]):
        before, after = direct_totals.get(category, 0.0), proxy_totals[category]
        lines.append(f"| {category} | {before:.1f} | {after:.1f} | {after - before:+.1f} |")
    lines.append(f"| total | {sum(direct_totals.values()):.1f} | {sum(proxy_totals.values()):.1f} | |")
    lines += [
        "",
        "| function: own time (b) - (a) | category | µs/call | calls/request |",
        "|---|---|---:|---:|",
    ]
    added = {key: own - direct.own_us.get(key, 0.0) for key, own in proxy.own_us.items()}
    for key in sorted(added, key=lambda item: -added[item])[:top]:
        filename, line, name = key
        where = name if filename == "~" else f"{Path(filename).name}:{line} {name}"
        extra_calls = proxy.count[key] - direct.count.get(key, 0.0)
        lines.append(f"| `{where}` | {category_of(filename)} | {added[key]:.1f} | {extra_calls:+.1f} |")
    return lines


# --- report ---------------------------------------------------------------------------------------


def timing_table(summaries: Mapping[str, Summary]) -> list[str]:
    lines = ["| measurement | n | median ms | p90 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for name, summary in summaries.items():
        lines.append(
            f"| {name} | {summary.count} | {summary.median_ms:.3f} | "
            f"{summary.p90_ms:.3f} | {summary.p99_ms:.3f} |"
        )
    return lines


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
    miss, hit, floor = (summaries[name].median_ms for name in summaries)
    return [
        f"- cache miss / RSA verify floor: {miss / floor:.1f}x (median); "
        f"miss - floor = {miss - floor:.3f} ms",
        f"- cache hit / RSA verify floor: {hit / floor:.1f}x (median); hit / miss = {hit / miss:.2f}x",
    ]


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


def code_version() -> str:
    """The commit measured, and whether the code outside bench/ differs from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    try:
        commit = _run_git(git, "rev-parse", "--short", "HEAD")
        changes = _run_git(git, "status", "--porcelain", "--", ".", ":!bench")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} + uncommitted changes" if changes else commit


def _run_git(git: str, *args: str) -> str:
    done = subprocess.run([git, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def header_lines(
    args: argparse.Namespace, loop: asyncio.AbstractEventLoop, load: tuple[float, float]
) -> list[str]:
    return [
        "# Gateway overhead benchmark",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs; event loop {type(loop).__name__} (Mangum's); "
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


def warm_up(arms: Sequence[Arm], calls: int) -> None:
    for arm in arms:
        for _ in range(calls):
            arm.call()


def measure_requests(
    args: argparse.Namespace, harness: Harness, bench_redis: redis.Redis
) -> tuple[list[str], RequestSetup]:
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
        "run_until_complete, as each Mangum invocation is",
        f"- Redis per proxied request (token, tenant, every policy on): "
        f"**{cost.round_trips_per_request:g} round trip(s)**, {cost.per_request('evalsha'):g} EVALSHA; "
        "inside the script, per request: "
        + ", ".join(
            f"{name.upper()} x{cost.per_request(name):g}"
            for name in sorted(cost.commands)
            if name != "evalsha"
        ),
        f"- one INFO request record is {len(record)} bytes of JSON",
        f"- the proxy's application/json answer is base64-encoded by Mangum: {setup.body_base64}",
        "",
    ]
    return lines, setup


def measure_authorizer(args: argparse.Namespace, harness: Harness) -> list[str]:
    arms = authorizer_arms(harness, args.auth_iterations + 50)
    warm_up(arms, 50)  # consumes 50 of the fresh tokens and their verify inputs
    before = cache_counts()
    samples = run_interleaved(arms, args.auth_iterations, min(args.batch, 100))
    hits, misses = (after - earlier for after, earlier in zip(cache_counts(), before, strict=True))
    summaries = {name: summarize(s) for name, s in samples.items()}
    return [
        "## Authorizer handler per call (real Redis)",
        "",
        *timing_table(summaries),
        "",
        *authorizer_lines(summaries),
        f"- the authorizer counted {hits:.0f} cache hits and {misses:.0f} misses during the run "
        f"(expected {args.auth_iterations} each; fewer hits means something flushed db {REDIS_DB})",
        "",
    ]


def cache_counts() -> tuple[float, float]:
    from bakery_gateway.observability import registry

    hits = registry.get_sample_value("gateway_auth_cache_hits_total") or 0.0
    misses = registry.get_sample_value("gateway_auth_cache_misses_total") or 0.0
    return hits, misses


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


def profile_requests(setup: RequestSetup, calls: int) -> list[str]:
    direct, proxy = (next(arm for arm in setup.arms if arm.name == name) for name in (DIRECT, PROXY))
    return profile_lines(profile_arm(direct, calls), profile_arm(proxy, calls), calls)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
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
            request_lines, setup = measure_requests(args, harness, bench_redis)
            auth_lines = measure_authorizer(args, harness)
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
    text = "\n".join(report) + "\n"
    print(text)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(text)
    print(f"(written to {RESULTS_PATH.relative_to(REPO_ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
