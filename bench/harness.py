"""The per-request harness: stub service, function environment, events, log level, Redis cleanup."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import redis

from bakery_local.dev_tokens import DevKeyPair

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
STUB_SCRIPT = BENCH_DIR / "stub_service.py"

# db 15 unless BENCH_REDIS_DB says otherwise (two benchmarks at once would count each other's keys).
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
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
def stub_service(port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """The stub service in its own process (its own GIL), listening on ``host`` (loopback by default)."""
    process = subprocess.Popen(
        [sys.executable, str(STUB_SCRIPT), "--host", host, "--port", str(port), "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(process, host, port)
        yield f"http://{host}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdin:
            process.stdin.close()


def _wait_listening(process: subprocess.Popen[bytes], host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the stub service exited: {error}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the stub service did not listen on port {port} within {timeout} s")


def delete_run_keys(client: redis.Redis, tokens: Sequence[str]) -> int:
    """Delete the keys this run created: claims cached for its tokens, and any key naming its ids."""
    from bakery_gateway.clients.redis_keyspace import claims_cache_key

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
    from bakery_gateway.telemetry.observability import logger

    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise RuntimeError(f"unexpected log handler {handler!r}")
    return handler


@contextmanager
def request_logging_at_info(sink: Any) -> Iterator[None]:
    """Request logging at INFO into ``sink`` for the duration; back to WARNING on stdout after."""
    from bakery_gateway.telemetry.observability import logger

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


# --- harness ------------------------------------------------------------------------------------


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
    asyncio.set_event_loop(loop)  # the proxy's handler runs each invocation on this thread's loop
    authorizer = importlib.import_module(AUTHORIZER_MODULE)
    proxy = importlib.import_module(PROXY_MODULE)
    from bakery_gateway.clients.factories import http_client_factory

    client = http_client_factory(proxy.settings)()
    return Harness(loop, authorizer, proxy, keys, client, stub_url)


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
