"""Throughput of ``bakery-gateway serve`` against a bare passthrough proxy, both measured with ``wrk``.

Arms, each a server of its own on loopback, all forwarding to the same stub service
(``stub_service.py``, its own process):
- ``gateway``: ``bakery-gateway serve --workers N``, the full path: a valid token (authorizer, its
  result cache), every policy in one Redis round trip, proxied by the proxy function, its downstream
  client over ``--transport`` (``DOWNSTREAM_HTTP_TRANSPORT``; the gateway's default unless given);
- ``bare httpx-on-aiohttp``: ``passthrough.py --client httpx-on-aiohttp``, uvicorn + the proxy's own
  client factory over the aiohttp transport: the gateway's client when ``--transport aiohttp``;
- ``bare httpx``: the same factory over httpx's own transport: the gateway's client when
  ``--transport httpx``, and the comparison for the aiohttp transport;
- ``bare aiohttp``: the same passthrough with a plain aiohttp session (no httpx API on top);
- ``gateway@REF`` (``--baseline-ref REF``): the same ``serve`` of another commit (``baseline.py``: its
  files exported with a virtualenv of their own, cached under ``build/``), for a before/after in one run; the
  report then ends with each gateway's server CPU per request (median over the rounds) and their
  ratio. ``--no-bare`` leaves the bare arms out.

Arms run one after another, interleaved over ``--rounds``, each after a warm-up; the report prints
req/s, latency p50/p99, errors (non-2xx, socket errors, timeouts), the ratio to the bare arm with
the gateway's own client (same factory, same transport) of the same round, and the load average,
and appends the table to ``results/throughput.md``.

Run: ``make bench-throughput`` or ``.venv/bin/python bench/throughput.py --duration 10 --rounds 2``;
before/after: ``make bench-throughput ARGS='--baseline-ref main'``
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from baseline import baseline_python, cpu_before_after
from harness import (
    BENCH_DIR,
    REQUEST_PATH,
    RUN_ID,
    STUB_SCRIPT,
    code_version,
    delete_run_keys,
    free_port,
    function_environment,
    stub_service,
)
from process_cpu import command_line, pids_running, process_tree, snapshot

from bakery_gateway.constants import DOWNSTREAM_HTTP_TRANSPORT
from bakery_gateway.settings import DOWNSTREAM_HTTP_TRANSPORTS, Settings
from bakery_local.dev_tokens import DevKeyPair

RESULTS = BENCH_DIR / "results" / "throughput.md"
PASSTHROUGH = BENCH_DIR / "passthrough.py"
STATUS_SCRIPT = BENCH_DIR / "status_counts.lua"  # wrk's answers per status code
# passthrough.py --client for each DOWNSTREAM_HTTP_TRANSPORT: the bare arm with the gateway's client.
SAME_CLIENT = {"aiohttp": "httpx-on-aiohttp", "httpx": "httpx"}
BARE_CLIENTS = ("httpx-on-aiohttp", "httpx", "aiohttp")
REDIS_DB = 13
STARTUP_SECONDS = 60
STATUS_LINE = re.compile(r"^status (\d+) (\d+)$", re.MULTILINE)
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Arm:
    name: str
    url: str  # the whole URL wrk requests
    headers: dict[str, str]
    server_pid: int  # the server process; its workers are its children


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    load: float
    statuses: dict[int, int]

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse_wrk(output: str, load: float) -> WrkResult:
    """The figures of ``wrk --latency``'s report."""

    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if found is None:
            raise ValueError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(found.group(1)) * UNITS[found.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(value) for value in sockets.groups()) if sockets else 0,
        load=load,
        statuses={int(code): int(count) for code, count in STATUS_LINE.findall(output)},
    )


def run_wrk(arm: Arm, *, seconds: float, connections: int, threads: int) -> WrkResult:
    headers = [option for name, value in arm.headers.items() for option in ("-H", f"{name}: {value}")]
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "--script",
        str(STATUS_SCRIPT),
        *headers,
        arm.url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(completed.stdout, os.getloadavg()[0])


def measured_run(
    arm: Arm, args: argparse.Namespace, shared: Mapping[str, Sequence[int]]
) -> tuple[WrkResult, dict[str, float]]:
    """One measured wrk run, and the CPU µs per request of the arm's server, of every process in
    ``shared`` (the stub, Redis) and of wrk itself, read from /proc around the run."""
    groups = {"server": process_tree(arm.server_pid), **shared}
    before, wrk_before = snapshot(groups), _finished_children_cpu()
    result = run_wrk(arm, seconds=args.duration, connections=args.connections, threads=args.wrk_threads)
    after, wrk_after = snapshot(groups), _finished_children_cpu()
    spent = {name: after[name] - before[name] for name in groups}
    spent["wrk"] = wrk_after - wrk_before  # wrk has been waited for: it counts among our children
    requests = max(result.requests, 1)
    return result, {name: seconds / requests * 1e6 for name, seconds in spent.items()}


def _finished_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shared_processes(stub_url: str, redis_client: redis.Redis) -> dict[str, list[int]]:
    """The stub's process and, when it runs on this machine, the Redis server's."""
    port = stub_url.rsplit(":", 1)[1]
    stub = [pid for pid in pids_running(str(STUB_SCRIPT)) if pid in pids_running(port)]
    processes = {"stub": stub}
    redis_pid = int(redis_client.info("server")["process_id"])
    if b"redis" in command_line(redis_pid):  # else Redis runs elsewhere: its pid means nothing here
        processes["Redis"] = [redis_pid]
    return processes


@contextmanager
def server(command: Sequence[str], environ: dict[str, str], health_url: str, log: Path) -> Iterator[int]:
    """A server process of the bench (stdin held open: it stops when the bench does); yields its pid."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            list(command), env=environ, stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited at start-up:\n{log.read_text()}")
            try:
                if httpx.get(health_url, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{command[:4]} did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}"
                )
            time.sleep(0.2)
        yield process.pid
    finally:
        process.terminate()  # uvicorn's graceful shutdown, then its workers stop
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdin:
            process.stdin.close()


def check_answers(arm: Arm) -> None:
    """One request first: a bench of 401s or 429s would measure nothing."""
    response = httpx.get(arm.url, headers=arm.headers, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"{arm.name}: {response.status_code} {response.text[:300]}")


def _odd_statuses(result: WrkResult) -> str:
    """The non-2xx answers by status, and socket errors (timeouts included): what ``errors`` adds up."""
    odd = [f"{code}: {count}" for code, count in sorted(result.statuses.items()) if not 200 <= code < 300]
    if result.socket_errors:
        odd.append(f"socket: {result.socket_errors}")
    return ", ".join(odd) or "-"


Row = tuple[int, str, WrkResult, dict[str, float]]  # round, arm, wrk's figures, CPU µs per request
CPU_COLUMNS = ("server", "stub", "Redis", "wrk")


def report(rows: list[Row], args: argparse.Namespace, loads: tuple[float, float]) -> str:
    same_client = f"bare {SAME_CLIENT[args.transport]}"
    bare = {round_: result for round_, name, result, _ in rows if name == same_client}
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {code_version()}",
        "",
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; wrk -t{args.wrk_threads} "
        f"-c{args.connections} -d{args.duration}s after {args.warmup}s of warm-up; every server "
        f"{args.workers} worker process(es) (serve: --threads {args.serve_threads}); gateway's "
        f"DOWNSTREAM_HTTP_TRANSPORT={args.transport}, ratios to `{same_client}` (the same client); "
        f"1-minute load average {loads[0]:.2f} at the start, "
        f"{loads[1]:.2f} at the end (wrk, the stub, Redis and anything else share the CPUs).",
        "",
        "CPU µs per request, read from /proc around each measured run: the arm's server (all its "
        "processes), the stub service, Redis (when local) and wrk.",
        "",
        "| round | arm | req/s | p50 ms | p99 ms | requests | errors | which | x bare same client | load | "
        "CPU µs/req: server | stub | Redis | wrk |",
        "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for round_, name, result, cpu in rows:
        ratio = result.requests_per_second / bare[round_].requests_per_second if round_ in bare else 0.0
        lines.append(
            f"| {round_} | {name} | {result.requests_per_second:,.0f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {result.requests:,} | {result.errors} | {_odd_statuses(result)} | "
            f"{ratio:.2f} | {result.load:.2f} | "
            + " | ".join(f"{cpu[column]:.0f}" if column in cpu else "-" for column in CPU_COLUMNS)
            + " |"
        )
    lines.append("")
    lines += cpu_before_after(rows)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of wrk before each measurement (cold clients)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of every arm")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    parser.add_argument("--serve-threads", type=int, default=32, help="bakery-gateway serve --threads")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    parser.add_argument(
        "--transport",
        choices=DOWNSTREAM_HTTP_TRANSPORTS,
        default=Settings().downstream_http_transport,
        help="the gateway's DOWNSTREAM_HTTP_TRANSPORT (default: the gateway's default)",
    )
    parser.add_argument(
        "--baseline-ref",
        help="also measure serve of this commit, branch or tag (arm gateway@REF), interleaved with ours",
    )
    parser.add_argument("--no-bare", action="store_true", help="leave the bare passthrough arms out")
    parser.add_argument("--no-write", action="store_true", help=f"do not append to {RESULTS}")
    args = parser.parse_args(argv)
    loads_start = os.getloadavg()[0]
    print(f"load average at start: {os.getloadavg()}", flush=True)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-throughput-")))
        keys = DevKeyPair.load_or_create(workdir / "keys")
        stub_url = stack.enter_context(stub_service(free_port()))
        environ = {
            **os.environ,
            **function_environment(args.redis_host, args.redis_port, keys, stub_url),
            "REDIS_DB": str(args.redis_db),
            "PYTHONPATH": str(BENCH_DIR),
            DOWNSTREAM_HTTP_TRANSPORT: args.transport,
        }
        token = keys.mint(user_id=f"bench-user-{RUN_ID}", tenant_id=f"bench-tenant-{RUN_ID}")
        arms: list[Arm] = []

        gateway_port = free_port()
        command = [sys.executable, "-m", "bakery_local.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(gateway_port), "--workers", str(args.workers)]
        command += ["--threads", str(args.serve_threads)]
        gateway = f"http://127.0.0.1:{gateway_port}"
        pid = stack.enter_context(server(command, environ, f"{gateway}/health", workdir / "serve.log"))
        arms.append(Arm("gateway", f"{gateway}{REQUEST_PATH}", {"Authorization": f"Bearer {token}"}, pid))

        if args.baseline_ref:
            commit, python = baseline_python(args.baseline_ref)
            port = free_port()
            command = [str(python), "-m", "bakery_local.cli", "serve", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--workers", str(args.workers)]
            command += ["--threads", str(args.serve_threads)]
            url = f"http://127.0.0.1:{port}"
            baseline_environ = {**environ, "PYTHONPATH": str(python.parents[2] / "checkout" / "bench")}
            log = workdir / "serve-baseline.log"
            pid = stack.enter_context(server(command, baseline_environ, f"{url}/health", log))
            name = f"gateway@{args.baseline_ref}" + (
                "" if args.baseline_ref.startswith(commit) else f" ({commit})"
            )
            arms.append(Arm(name, f"{url}{REQUEST_PATH}", {"Authorization": f"Bearer {token}"}, pid))

        for client in () if args.no_bare else BARE_CLIENTS:
            port = free_port()
            command = [sys.executable, str(PASSTHROUGH), "--port", str(port), "--upstream", stub_url]
            command += ["--client", client, "--workers", str(args.workers), "--exit-on-stdin-eof"]
            url = f"http://127.0.0.1:{port}"
            log = workdir / f"{client}.log"
            pid = stack.enter_context(server(command, environ, f"{url}{REQUEST_PATH}", log))
            arms.append(Arm(f"bare {client}", f"{url}{REQUEST_PATH}", {}, pid))

        client_redis = redis.Redis(host=args.redis_host, port=args.redis_port, db=args.redis_db)
        shared = shared_processes(stub_url, client_redis)
        rows: list[Row] = []
        for arm in arms:
            check_answers(arm)
        for round_ in range(1, args.rounds + 1):
            # Every other round in reverse: no arm always runs first (or right after the same one).
            for arm in arms if round_ % 2 else arms[::-1]:
                run_wrk(arm, seconds=args.warmup, connections=args.connections, threads=args.wrk_threads)
                result, cpu = measured_run(arm, args, shared)
                rows.append((round_, arm.name, result, cpu))
                print(
                    f"round {round_} {arm.name:21} {result.requests_per_second:8,.0f} req/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors} "
                    f"({_odd_statuses(result)})  "
                    f"load {os.getloadavg()}",
                    flush=True,
                )
        delete_run_keys(client_redis, [token])
        client_redis.close()

    text = report(rows, args, (loads_start, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Throughput: bakery-gateway serve vs a bare passthrough (bench/throughput.py)\n\n"
            )
        with RESULTS.open("a") as results:
            results.write(text + "\n")
    print(f"load average at end: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
