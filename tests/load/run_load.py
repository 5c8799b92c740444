"""``make load``: the local runtime on a free port, tokens from its dev issuer, locust headless against it.

Starts ``bakery-gateway local --no-reload`` (real Redis, the sample services, a temporary state
directory holding the dev key pair), mints one token per simulated user (spread over a few tenants)
and one for the abuser (a tenant of its own), then runs ``tests/load/locustfile.py`` with the
locust of ``.venv-locust``. The per-user rate limit is set low enough for the abuser to reach and
far above what a shopper sends; the tenant and login limits are out of reach. Locust's exit code is
this script's: non-zero on any unexpected status. Only the keys naming this run's ids are deleted.

Run: ``.venv/bin/python tests/load/run_load.py [--users 40] [--duration 60s] [--redis-db 14]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis

from bakery_gateway import constants as names
from bakery_local import runtime_process
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.runtime_process import local_runtime_process

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
LOCUST = REPO_ROOT / ".venv-locust" / "bin" / "locust"
STARTUP_SECONDS = 60.0
RUN_ID = uuid.uuid4().hex[:8]
TENANTS = 5
# A shopper sends ~1 request/s; the abuser hundreds. 100 per 10 s separates them.
USER_LIMIT, USER_WINDOW_SECONDS = 100, 10
OUT_OF_REACH = 1_000_000_000


def runtime_environment(arguments: argparse.Namespace, state: Path) -> dict[str, str]:
    return runtime_process.runtime_environment(
        redis_host=arguments.redis_host,
        redis_port=arguments.redis_port,
        redis_db=arguments.redis_db,
        state_dir=state,
        settings={
            names.SSE_WAIT_SECONDS: "2",
            names.SSE_HEARTBEAT_SECONDS: "1",
            names.RATE_LIMIT_REQUESTS: str(USER_LIMIT),
            names.RATE_LIMIT_WINDOW_SECONDS: str(USER_WINDOW_SECONDS),
            names.RATE_LIMIT_TENANT_REQUESTS: str(OUT_OF_REACH),
            names.LOGIN_RATE_LIMIT_IP_REQUESTS: str(OUT_OF_REACH),
            names.LOGIN_RATE_LIMIT_NAME_REQUESTS: str(OUT_OF_REACH),
        },
    )


@contextmanager
def local_runtime(arguments: argparse.Namespace, state: Path) -> Iterator[str]:
    """``bakery-gateway local`` on a free port; its URL. Its log's tail is printed at the end."""
    runtime_arguments = ["--workers", str(arguments.users + 32)]
    environ = runtime_environment(arguments, state)
    with local_runtime_process(
        runtime_arguments, environ, state / "gateway.log", startup_seconds=STARTUP_SECONDS
    ) as url:
        yield url


def write_tokens(keys: DevKeyPair, users: int, path: Path) -> None:
    """One token per simulated user (tenants shared), and the abuser's, in a tenant of its own."""
    tokens = [
        keys.mint(user_id=f"load-user-{RUN_ID}-{n}", tenant_id=f"load-tenant-{RUN_ID}-{n % TENANTS}")
        for n in range(users)
    ]
    abuser = keys.mint(user_id=f"load-abuser-{RUN_ID}", tenant_id=f"load-abuser-tenant-{RUN_ID}")
    path.write_text(json.dumps({"users": tokens, "abuser": abuser}))


def delete_run_keys(arguments: argparse.Namespace) -> int:
    client = redis.Redis(host=arguments.redis_host, port=arguments.redis_port, db=arguments.redis_db)
    keys = list(client.scan_iter(match=f"*{RUN_ID}*", count=1000))
    return int(client.delete(*keys)) if keys else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40, help="simulated users (the abuser is one of them)")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    parser.add_argument("--duration", default="60s", help="locust --run-time")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=14)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_args(argv)
    if not LOCUST.exists():
        print(f"{LOCUST} is missing: run `make load` (it creates .venv-locust)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bakery-load-") as directory:
        state = Path(directory)
        keys = DevKeyPair.load_or_create(state)  # before the runtime starts: it trusts this pair
        tokens_path = state / "tokens.json"
        write_tokens(keys, arguments.users, tokens_path)
        print(f"load test: {arguments.users} users for {arguments.duration}; load average {os.getloadavg()}")
        try:
            with local_runtime(arguments, state) as url:
                command = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary"]
                command += ["--host", url, "--users", str(arguments.users)]
                command += ["--spawn-rate", str(arguments.spawn_rate), "--run-time", arguments.duration]
                command += ["--stop-timeout", "10"]
                environ = {**os.environ, "LOAD_TOKENS_FILE": str(tokens_path)}
                code = subprocess.run(command, env=environ, check=False).returncode  # noqa: S603
        finally:
            deleted = delete_run_keys(arguments)
    print(f"locust exit code {code}; load average {os.getloadavg()}; deleted {deleted} keys of run {RUN_ID}")
    return code


if __name__ == "__main__":
    sys.exit(main())
