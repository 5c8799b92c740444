"""Network clients, created once per container and reused across invocations.

Async clients (redis.asyncio, httpx and its aiohttp transport) hold connections bound to the event
loop they were first used on. On Lambda every invocation runs on the thread's one loop, so one
client per loop is one client per container; the local runtime runs one loop per worker thread, and
gets one client each.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar

from bakery_gateway.settings import RedisSettings, Settings

if TYPE_CHECKING:
    import http.cookiejar
    import ssl

    import httpx
    import redis
    import redis.asyncio
    from redis.backoff import AbstractBackoff

ClientT = TypeVar("ClientT")
RetryT = TypeVar("RetryT")


class PerEventLoop(Generic[ClientT]):
    """One client per running event loop, made by ``factory`` on first use in that loop."""

    def __init__(self, factory: Callable[[], ClientT]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientT] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        # The last loop asked for and its client: on Lambda, every call (several per request) after
        # the first, without hashing the loop into the weak mapping. A weak reference, so a loop
        # that is gone neither lives on here nor has its client handed to a new loop.
        self._last: tuple[weakref.ref[asyncio.AbstractEventLoop], ClientT] | None = None

    def get(self) -> ClientT:
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0]() is loop:
            return last[1]
        client = self._clients.get(loop)
        if client is None:
            with self._lock:
                client = self._clients.setdefault(loop, self._factory())
        self._last = (weakref.ref(loop), client)
        return client


def _redis_options(settings: RedisSettings, *, decode_responses: bool = True) -> dict[str, object]:
    """What every redis-py client here gets, but its ``retry`` (``_no_resend``)."""
    if not settings.host:
        # Settings do not require REDIS_HOST so that unit tests can build them; a function does.
        from bakery_gateway.errors import ConfigurationError

        raise ConfigurationError("REDIS_HOST: not set; the gateway keeps its shared state in Redis")
    from bakery_gateway.clients.redis_auth import redis_password

    return {
        "host": settings.host,
        "port": settings.port,
        "db": settings.db,
        # From REDIS_PASSWORD_SECRET_ID's secret, read once per container, else REDIS_PASSWORD.
        "password": redis_password(settings),
        "ssl": settings.tls,
        "socket_timeout": settings.timeout_seconds,
        "socket_connect_timeout": settings.timeout_seconds,
        "decode_responses": decode_responses,
    }


def _no_resend(retry_class: Callable[[AbstractBackoff, int], RetryT]) -> RetryT:
    """redis-py's retry policy here: none. Its retry would send a command again after its connection
    broke, when the command may have run (a script moving rate-limit buckets, a failure counted, an
    audit entry appended). A connection the server closed while idle is found before the command is
    written instead (redis-py's check at checkout for the blocking client, ``redis_connections`` for
    asyncio), so a restart costs no command; docs/resilience.md, "Redis connections"."""
    from redis.backoff import NoBackoff

    return retry_class(NoBackoff(), 0)


def async_redis_factory(
    settings: RedisSettings, *, decode_responses: bool = True, read_timeout_seconds: float | None = None
) -> Callable[[], redis.asyncio.Redis]:
    """Async clients; ``decode_responses=False`` saves decoding replies the caller reads as bytes.

    ``read_timeout_seconds`` replaces the socket timeout (not the connect timeout) for clients that
    make blocking reads (``XREAD BLOCK``), which must outlast their own wait.
    """

    def create() -> redis.asyncio.Redis:
        import redis.asyncio
        from redis.asyncio.retry import Retry

        from bakery_gateway.clients.redis_connections import CheckedConnection, CheckedSSLConnection

        options = _redis_options(settings, decode_responses=decode_responses)
        if read_timeout_seconds is not None:
            options["socket_timeout"] = read_timeout_seconds
        client = redis.asyncio.Redis(**options, retry=_no_resend(Retry))  # type: ignore[arg-type]
        # Before any connection exists: the pool makes each one of this class. (redis.asyncio.Redis
        # takes no connection class; building its pool by hand would repeat its TLS defaults.)
        client.connection_pool.connection_class = CheckedSSLConnection if settings.tls else CheckedConnection
        return client

    return create


@lru_cache(maxsize=4)
def sync_redis(settings: RedisSettings) -> redis.Redis:
    """The container's blocking Redis client (thread-safe through its connection pool)."""
    import redis
    from redis.retry import Retry

    return redis.Redis(**_redis_options(settings), retry=_no_resend(Retry))  # type: ignore[arg-type]


def http_client_factory(settings: Settings) -> Callable[[], httpx.AsyncClient]:
    """Clients for the services: httpx's API over ``DOWNSTREAM_HTTP_TRANSPORT``'s connection pool.

    Either transport: the same timeouts and connection limit, no proxy from the environment, no
    redirects followed, no cookies kept, bodies returned as the service encoded them.
    """

    def create() -> httpx.AsyncClient:
        import httpx

        timeout = httpx.Timeout(
            connect=settings.downstream_connect_timeout_seconds,
            read=settings.downstream_read_timeout_seconds,
            write=settings.downstream_read_timeout_seconds,
            pool=settings.downstream_connect_timeout_seconds,
        )
        limits = httpx.Limits(
            max_connections=settings.downstream_max_connections,
            max_keepalive_connections=settings.downstream_max_connections,
        )
        transport: httpx.AsyncBaseTransport
        if settings.downstream_http_transport == "aiohttp":
            # Imported here, not at cold start: aiohttp costs ~95 ms of CPU to import.
            from bakery_gateway.clients.aiohttp_transport import AiohttpTransport

            transport = AiohttpTransport(
                max_connections=settings.downstream_max_connections,
                keepalive_expiry_seconds=limits.keepalive_expiry or 5.0,
                tls=_tls_context(),
            )
        else:
            transport = httpx.AsyncHTTPTransport(limits=limits, verify=_tls_context(), trust_env=False)
        from bakery_gateway.clients.downstream_client import DownstreamClient

        # trust_env=False: a proxy variable in the Lambda environment must not reroute service calls.
        return DownstreamClient(
            transport=transport,
            timeout=timeout,
            trust_env=False,
            follow_redirects=False,
            cookies=_cookie_jar_that_keeps_nothing(),
        )

    return create


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CAs), built once per process: every client shares it."""
    import httpx

    return httpx.create_ssl_context(trust_env=False)


def _cookie_jar_that_keeps_nothing() -> http.cookiejar.CookieJar:
    """A client is shared by every request of the container: a cookie one service set for one user
    must not go out with the next user's requests (httpx keeps them by default)."""
    import http.cookiejar

    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
