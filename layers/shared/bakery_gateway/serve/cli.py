"""``bakery-gateway serve``'s command line (also ``python -m bakery_gateway.serve``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bakery_gateway import constants
from bakery_gateway.settings.server import DEFAULT_GRACEFUL_SECONDS, DEFAULT_THREADS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's server listens on all
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, help="processes (default: $WEB_CONCURRENCY, else the CPUs)")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="threads per worker process for the authorizer's verifications (its Redis client blocks)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=DEFAULT_GRACEFUL_SECONDS,
        help="seconds in-flight requests get to finish after SIGTERM",
    )
    parser.add_argument(
        "--forwarded-allow-ips", help="proxies whose X-Forwarded-For is trusted (default 127.0.0.1)"
    )
    # Defaults: the environment variable, else ServerSettings' own (docs/standalone.md).
    parser.add_argument(
        "--header-timeout",
        type=float,
        help=f"seconds for a request's head (${constants.SERVE_HEADER_TIMEOUT_SECONDS})",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        help=f"seconds for a request's body (${constants.SERVE_BODY_TIMEOUT_SECONDS})",
    )
    parser.add_argument(
        "--max-header-bytes", type=int, help=f"request line and headers (${constants.SERVE_MAX_HEADER_BYTES})"
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        help=f"open connections per worker (${constants.SERVE_MAX_CONNECTIONS})",
    )


def run(arguments: argparse.Namespace) -> int:
    # Imported here: the server brings uvicorn and the functions, which parsing never needs.
    from bakery_gateway.serve.server import ServeOptions, serve

    return serve(
        ServeOptions(
            host=arguments.host,
            port=arguments.port,
            workers=arguments.workers,
            threads=arguments.threads,
            graceful_seconds=arguments.graceful_timeout,
            forwarded_allow_ips=arguments.forwarded_allow_ips,
            server_variables={
                variable: str(value)
                for variable, value in (
                    (constants.SERVE_HEADER_TIMEOUT_SECONDS, arguments.header_timeout),
                    (constants.SERVE_BODY_TIMEOUT_SECONDS, arguments.body_timeout),
                    (constants.SERVE_MAX_HEADER_BYTES, arguments.max_header_bytes),
                    (constants.SERVE_MAX_CONNECTIONS, arguments.max_connections),
                )
                if value is not None
            },
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bakery-gateway serve", description="The gateway as a production server (docs/standalone.md)."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
