"""``bakery-gateway serve``: the gateway as a long-lived ASGI server, for production containers.

Each uvicorn worker process runs ``ServeApp`` (``app``): the route table, CORS, the authorizer behind
its verdict cache, and the functions' objects called with the request. It needs nothing but the
installed package and its settings: no ``template.yaml``, no embedded Redis (a real one is required
and checked before any worker starts), no development key pair, no sample services, no ``/_local``
routes, no reload. Settings are Lambda's (``Settings.from_environ``) plus ``ServerSettings``. The
WebSocket API is not served (its connection registry lives in one process). Each worker's
connections are held to the deadlines and limits of ``ServerSettings`` (``protocol``).
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from bakery_gateway import constants
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.serve.app import ServeApp
from bakery_gateway.serve.protocol import GuardedHttpToolsProtocol
from bakery_gateway.settings import ServerSettings, Settings
from bakery_gateway.settings.server import DEFAULT_THREADS

# Read by each worker process's factory (uvicorn starts workers with a fresh interpreter).
THREADS_VARIABLE = "BAKERY_SERVE_THREADS"
KEY_SOURCES = (
    constants.JWT_PUBLIC_KEY,
    constants.JWT_PUBLIC_KEYS,
    constants.JWT_PUBLIC_KEYS_SSM_PARAMETER,
    constants.JWT_PUBLIC_KEYS_SECRET_ID,
)


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    workers: int | None  # None: default_workers()
    threads: int
    graceful_seconds: int
    forwarded_allow_ips: str | None
    # ServerSettings given on the command line, as the variables they stand for (they win).
    server_variables: Mapping[str, str] = field(default_factory=dict)


WORKERS_VARIABLE = "WEB_CONCURRENCY"  # uvicorn's and gunicorn's name for it


def default_workers(environ: Mapping[str, str] | None = None) -> int:
    """``WEB_CONCURRENCY``, else the CPUs this process may run on (a container's cpuset, not the host's)."""
    configured = (os.environ if environ is None else environ).get(WORKERS_VARIABLE)
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise ConfigurationError(f"{WORKERS_VARIABLE}: {configured!r} is not a whole number") from None
    return len(os.sched_getaffinity(0)) or 1


def check_configuration(environ: Mapping[str, str] | None = None, *, ping_redis: bool = True) -> Settings:
    """Lambda's settings, plus what a production server cannot start without; fails naming the variable."""
    environ = os.environ if environ is None else environ
    settings = Settings.from_environ(environ)
    if not settings.redis.host:
        raise ConfigurationError(
            f"{constants.REDIS_HOST}: not set; `serve` needs a real Redis (it starts no embedded one, "
            "unlike `bakery-gateway local`)"
        )
    if not any(environ.get(name) for name in KEY_SOURCES):
        raise ConfigurationError(
            f"{' / '.join(KEY_SOURCES)}: none set; `serve` verifies tokens with configured public keys "
            "only (it has no development token issuer)"
        )
    if ping_redis:
        _ping(settings)
    return settings


def _ping(settings: Settings) -> None:
    import redis

    from bakery_gateway.clients.factories import sync_redis

    client = sync_redis(settings.redis)
    try:
        client.ping()
    except redis.RedisError as error:
        where = f"{settings.redis.host}:{settings.redis.port}"
        raise ConfigurationError(
            f"{constants.REDIS_HOST}/{constants.REDIS_PORT}: Redis at {where} does not answer ({error})"
        ) from error
    finally:
        client.close()


def build_app(settings: Settings, server: ServerSettings, *, threads: int = DEFAULT_THREADS) -> ServeApp:
    """One worker's application: the HTTP API and its functions, no WebSocket API."""
    from bakery_gateway.api.cors import gateway_cors
    from bakery_gateway.cold_start import resume_collection
    from bakery_gateway.serve.alert_stream import AlertStreaming
    from bakery_gateway.serve.functions import after_each_request, authorizer_call, served_functions

    app = ServeApp(
        served_functions(settings),
        authorizer_call(settings),
        cors=gateway_cors(server.cors_origins, allow_credentials=server.cors_allow_credentials),
        streaming=AlertStreaming.from_settings(settings),
        threads=threads,
        after_each=after_each_request(settings),
    )
    # Collection was paused if this runs inside Lambda (cold_start.py); no handler module's
    # instrument() resumes it here, so the worker does once its objects are built.
    resume_collection()
    return app


def create_app() -> ServeApp:
    """The uvicorn factory, called once in each worker process."""
    return build_app(
        Settings.from_environ(),
        ServerSettings.from_environ(),
        threads=int(os.environ.get(THREADS_VARIABLE, DEFAULT_THREADS)),
    )


# A worker's files besides client connections and the downstream pool: Redis, alert streams, logs.
SPARE_OPEN_FILES = 64


def ensure_open_files(needed: int) -> None:
    """Raise this process's open-file limit (its workers inherit it) to ``needed``, up to the hard
    limit; a limit too low for ``SERVE_MAX_CONNECTIONS`` fails the start instead of every accept."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigurationError(
            f"{constants.SERVE_MAX_CONNECTIONS}: a worker may need {needed} open files (connections, "
            f"the downstream pool, Redis), above this process's limit of {hard} (`ulimit -n`): "
            "lower it or raise the limit"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def serve(options: ServeOptions) -> int:
    """Check the configuration, then run the workers until SIGTERM/SIGINT (in-flight requests get
    ``graceful_seconds`` to finish)."""
    import uvicorn

    try:
        workers = default_workers() if options.workers is None else options.workers
        if workers < 1 or options.threads < 1:
            raise ConfigurationError("--workers and --threads must be at least 1")
        settings = check_configuration()
        server = ServerSettings.from_environ({**os.environ, **options.server_variables})
        ensure_open_files(server.max_connections + settings.downstream_max_connections + SPARE_OPEN_FILES)
    except ConfigurationError as error:
        print(f"bakery-gateway serve: {error}", file=sys.stderr)
        return 2
    os.environ[THREADS_VARIABLE] = str(options.threads)
    os.environ.update(options.server_variables)  # read by each worker's protocol
    print(
        f"bakery-gateway serve: http://{options.host}:{options.port}, {workers} worker(s) x "
        f"{options.threads} threads, Redis {settings.redis.host}:{settings.redis.port}; per worker: "
        f"{server.max_connections} connections, heads within {server.header_timeout_seconds:g} s and "
        f"{server.max_header_bytes} bytes, bodies within {server.body_timeout_seconds:g} s",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "bakery_gateway.serve.server:create_app",
        factory=True,
        # uvicorn's httptools protocol with deadlines and limits (protocol.py).
        http=GuardedHttpToolsProtocol,
        host=options.host,
        port=options.port,
        workers=workers,
        timeout_graceful_shutdown=options.graceful_seconds,
        forwarded_allow_ips=options.forwarded_allow_ips,
        log_level="warning",
        access_log=False,
        # The function's answer carries the service's own Date and Server headers.
        server_header=False,
        date_header=False,
    )
    return 0
