"""The proxy's hot path in a loop, for a sampling profiler: ``make profile`` runs py-spy on it.

Same set-up as ``overhead.py`` (stub service, real Redis, every policy on, a real token's authorizer
context, logging at WARNING), then only the proxy handler, called for ``--seconds``. ``--as-on-lambda``
adds what every invocation writes on Lambda: the request's log record at INFO and the EMF blob
(both into /dev/null). py-spy samples
from outside, so unlike cProfile it does not slow the many small calls down.

Run: ``.venv/bin/py-spy record -r 2000 -f raw -o build/hot.txt -- .venv/bin/python bench/hot_loop.py``
then ``.venv/bin/python bench/folded.py build/hot.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence

import redis
from arms import DIRECT, PROXY, proxy_arms
from harness import (
    REDIS_DB,
    build_harness,
    delete_run_keys,
    free_port,
    function_environment,
    info_into_devnull,
    stub_service,
)
from timing import warm_up

from bakery_local.dev_tokens import DevKeyPair


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--arm", choices=(PROXY, DIRECT), default=PROXY, help="(b) the proxy or (a) direct GET"
    )
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument(
        "--as-on-lambda", action="store_true", help="the request log at INFO and the EMF blob, into /dev/null"
    )
    args = parser.parse_args(argv)
    keys, port = DevKeyPair.generate(), free_port()
    environ = function_environment(args.redis_host, args.redis_port, keys, f"http://127.0.0.1:{port}")
    os.environ.update(environ)
    bench_redis = redis.Redis(host=args.redis_host, port=args.redis_port, db=REDIS_DB)
    with stub_service(port) as stub_url:
        harness = build_harness(keys, stub_url)
        try:
            setup = proxy_arms(harness)
            proxy = next(arm for arm in setup.arms if arm.name == args.arm)
            with as_on_lambda() if args.as_on_lambda else contextlib.nullcontext():
                warm_up([proxy], 300)
                calls, deadline, cpu_start = 0, time.monotonic() + args.seconds, time.process_time()
                while time.monotonic() < deadline:
                    for _ in range(100):
                        proxy.call()
                    calls += 100
                cpu_seconds = time.process_time() - cpu_start
        finally:
            harness.loop.run_until_complete(harness.client.aclose())
            delete_run_keys(bench_redis, harness.tokens)
    print(
        f"{calls} calls of {args.arm} in {args.seconds:g} s: "
        f"{args.seconds / calls * 1e3:.3f} ms each, {cpu_seconds / calls * 1e3:.3f} ms of this process's "
        "CPU each (the stub and Redis are other processes)"
    )
    return 0


@contextlib.contextmanager
def as_on_lambda() -> Iterator[None]:
    """The request log at INFO and the EMF blob on, both written into /dev/null."""
    from bakery_gateway.telemetry import emf

    emf.exporter.configure("bench", enabled=True)
    try:
        with info_into_devnull(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        emf.exporter.configure("bench", enabled=False)


if __name__ == "__main__":
    sys.exit(main())
