"""Health: the gateway's own (``GET /health``) and every service's (``GET /api/v1/health``).

``/api/v1/health`` calls ``{base}/health`` of every configured service at once, each bounded by
``HEALTH_CHECK_TIMEOUT_SECONDS``, and keeps the aggregate in Redis for ``HEALTH_CACHE_SECONDS``. One
container at a time makes a round of calls (a short Redis lock): the others wait for its report.
The rules (per service, overall, cache states) are in ``docs/health.md``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bakery_gateway import __version__, bounded_json
from bakery_gateway.api.routes import API_HEALTH_PATH
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.constants import SERVICE_HEALTH_PATH
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.telemetry.observability import REDIS_ERRORS, SERVICE_HEALTH, logger

if TYPE_CHECKING:
    import httpx

    from bakery_gateway.clients.factories import PerEventLoop
    from bakery_gateway.settings import Settings

# Without auth nobody can log in or refresh a token: the platform is down, whatever else answers.
CRITICAL_SERVICES: Final = frozenset({"auth"})
# A 2xx slower than this share of the timeout is "degraded": it answers, but close to giving up.
SLOW_FRACTION: Final = 0.5
# A crashed winner's lock expires this long after its round would have timed out.
LOCK_MARGIN_SECONDS: Final = 1.0
POLL_SECONDS: Final = 0.05


class Status(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class CacheState(StrEnum):
    HIT = "hit"  # a fresh report from Redis
    MISS = "miss"  # this request made the round of calls
    SHARED = "shared"  # another container's round, waited for
    STALE = "stale"  # the winner was too slow: the last report, older than the cache period
    UNAVAILABLE = "unavailable"  # Redis did not answer: checked directly, nothing cached


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    status: Status
    latency_ms: float
    http_status: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"status": self.status.value, "latency_ms": self.latency_ms}
        if self.http_status is not None:
            document["http_status"] = self.http_status
        if self.error is not None:
            document["error"] = self.error
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ServiceHealth:
        return cls(
            Status(document["status"]),
            float(document["latency_ms"]),
            document.get("http_status"),
            document.get("error"),
        )


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    services: Mapping[str, ServiceHealth]
    checked_at: float  # epoch seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "services": {name: health.to_json() for name, health in self.services.items()},
            "checked_at": iso_timestamp(self.checked_at),
            "checked_at_epoch": self.checked_at,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> HealthReport:
        return cls(
            Status(document["status"]),
            {name: ServiceHealth.from_json(item) for name, item in document["services"].items()},
            float(document["checked_at_epoch"]),
        )


def iso_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def classify(http_status: int, latency_seconds: float, timeout_seconds: float) -> Status:
    """2xx in time: healthy; 2xx but slow, 3xx or 4xx: degraded (it answers); 5xx: unhealthy."""
    if http_status >= 500:
        return Status.UNHEALTHY
    if 200 <= http_status < 300 and latency_seconds <= timeout_seconds * SLOW_FRACTION:
        return Status.HEALTHY
    return Status.DEGRADED


def overall(services: Mapping[str, ServiceHealth]) -> Status:
    """Healthy when every service is; unhealthy when all are, or a critical one is; else degraded."""
    statuses = {name: health.status for name, health in services.items()}
    if all(status is Status.HEALTHY for status in statuses.values()):
        return Status.HEALTHY
    if all(status is Status.UNHEALTHY for status in statuses.values()) or any(
        statuses.get(name) is Status.UNHEALTHY for name in CRITICAL_SERVICES
    ):
        return Status.UNHEALTHY
    return Status.DEGRADED


async def check_service(client: httpx.AsyncClient, base_url: str, timeout_seconds: float) -> ServiceHealth:
    """One service's ``GET {base}/health``, bounded as a whole by ``timeout_seconds``."""
    import httpx

    started = time.perf_counter()

    def elapsed_ms() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        # The whole exchange is bounded: httpx's read timeout is per read, a trickle would outlast it.
        async with asyncio.timeout(timeout_seconds):
            response = await client.get(base_url + SERVICE_HEALTH_PATH, timeout=timeout_seconds)
    except (TimeoutError, httpx.TimeoutException):
        return ServiceHealth(Status.UNHEALTHY, elapsed_ms(), error="timeout")
    except httpx.TransportError as error:
        reason = "unreachable" if isinstance(error, httpx.ConnectError) else "invalid_response"
        return ServiceHealth(Status.UNHEALTHY, elapsed_ms(), error=reason)
    latency_ms = elapsed_ms()
    status = classify(response.status_code, latency_ms / 1000, timeout_seconds)
    return ServiceHealth(status, latency_ms, http_status=response.status_code)


async def check_all(
    client: httpx.AsyncClient, service_urls: Mapping[str, str], timeout_seconds: float, now: float
) -> HealthReport:
    names = sorted(service_urls)
    results = await asyncio.gather(
        *(check_service(client, service_urls[name], timeout_seconds) for name in names)
    )
    services = dict(zip(names, results, strict=True))
    return HealthReport(overall(services), services, now)


def record_gauge(report: HealthReport) -> None:
    """``gateway_service_health``: 1 on each service's current status, 0 on the others."""
    for name, health in report.services.items():
        for status in Status:
            SERVICE_HEALTH.labels(name, status.value).set(1 if status is health.status else 0)


class HealthRedis(Protocol):
    async def get(self, name: str) -> Any: ...
    async def set(
        self, name: str, value: str, *, ex: int | None = None, px: int | None = None, nx: bool = False
    ) -> Any: ...
    async def eval(self, script: str, numkeys: int, *keys_and_args: str) -> Any: ...


# Deletes the lock only while it is still ours: an expired lock may belong to another container now.
RELEASE_SCRIPT: Final = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class HealthChecker:
    """The aggregate health of the configured services, single-flight across containers."""

    def __init__(
        self,
        settings: Settings,
        *,
        redis_clients: PerEventLoop[Any],
        http_clients: PerEventLoop[Any],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._service_urls = dict(settings.service_urls)
        self._timeout = settings.health.check_timeout_seconds
        self._cache_seconds = settings.health.cache_seconds
        self._redis_clients = redis_clients
        self._http_clients = http_clients
        self._clock = clock
        self._sleep = sleep

    async def aggregate(self) -> tuple[HealthReport, CacheState]:
        report, state = await self._aggregate()
        record_gauge(report)
        return report, state

    async def gateway_health(self) -> dict[str, Any]:
        """``GET /health``: the spec's document, from one Redis read and no downstream call."""
        redis_state = "connected"
        services: dict[str, str] = {}
        try:
            cached = await self._read(self._redis_clients.get())
        except RedisUnavailableError:
            redis_state, cached = "disconnected", None
        document: dict[str, Any] = {
            "status": "healthy" if redis_state == "connected" else "degraded",
            "version": __version__,
            "services": services,
            "redis": redis_state,
            "timestamp": iso_timestamp(self._clock()),
        }
        if cached is not None:
            services.update({name: health.status.value for name, health in cached.services.items()})
            document["services_checked_at"] = iso_timestamp(cached.checked_at)
        return document

    async def _aggregate(self) -> tuple[HealthReport, CacheState]:
        redis = self._redis_clients.get()
        try:
            cached = await self._read(redis)
        except RedisUnavailableError:
            return await self._check(), CacheState.UNAVAILABLE
        if cached is not None and self._is_fresh(cached):
            return cached, CacheState.HIT
        token = uuid.uuid4().hex
        lock_ms = int((self._timeout + LOCK_MARGIN_SECONDS) * 1000)
        try:
            won = await redis.set(redis_keyspace.HEALTH_LOCK_KEY, token, px=lock_ms, nx=True)
        except Exception:
            REDIS_ERRORS.labels("health_lock").inc()
            return await self._check(), CacheState.UNAVAILABLE
        if won:
            report = await self._check()
            await self._store(redis, report, token)
            return report, CacheState.MISS
        shared = await self._wait_for_winner(redis, cached)
        if shared is not None:
            return shared, CacheState.SHARED
        if cached is not None:
            return cached, CacheState.STALE
        report = await self._check()
        await self._store(redis, report, None)
        return report, CacheState.MISS

    async def _wait_for_winner(self, redis: HealthRedis, seen: HealthReport | None) -> HealthReport | None:
        """The report another container is making, if it lands within one round's time."""
        deadline = time.monotonic() + self._timeout + LOCK_MARGIN_SECONDS
        while time.monotonic() < deadline:
            await self._sleep(POLL_SECONDS)
            try:
                latest = await self._read(redis)
            except RedisUnavailableError:
                return None
            if latest is not None and (seen is None or latest.checked_at > seen.checked_at):
                return latest
        return None

    def _is_fresh(self, report: HealthReport) -> bool:
        return self._clock() - report.checked_at < self._cache_seconds

    async def _check(self) -> HealthReport:
        return await check_all(self._http_clients.get(), self._service_urls, self._timeout, self._clock())

    async def _read(self, redis: HealthRedis) -> HealthReport | None:
        try:
            raw = await redis.get(redis_keyspace.HEALTH_REPORT_KEY)
        except Exception as error:  # redis-py raises several unrelated types for one outage
            REDIS_ERRORS.labels("health_read").inc()
            raise RedisUnavailableError("health report could not be read") from error
        if raw is None:
            return None
        try:
            return HealthReport.from_json(bounded_json.loads(raw, max_bytes=bounded_json.STORED_RECORD_BYTES))
        except (ValueError, KeyError, TypeError):
            logger.warning("unreadable health report in Redis: ignored")
            return None

    async def _store(self, redis: HealthRedis, report: HealthReport, token: str | None) -> None:
        """Share the report; a failure only costs the next request a round of calls."""
        ttl = redis_keyspace.health_report_ttl(self._cache_seconds)
        try:
            await redis.set(redis_keyspace.HEALTH_REPORT_KEY, json.dumps(report.to_json()), ex=ttl)
            if token is not None:
                await redis.eval(RELEASE_SCRIPT, 1, redis_keyspace.HEALTH_LOCK_KEY, token)
        except Exception:
            REDIS_ERRORS.labels("health_store").inc()


def response_status(report: HealthReport) -> int:
    """503 only when the platform is down (unhealthy); degraded still answers 200."""
    return 503 if report.status is Status.UNHEALTHY else 200


def response_body(report: HealthReport, state: CacheState) -> dict[str, Any]:
    document = report.to_json()
    document.pop("checked_at_epoch")
    document["cache"] = state.value
    return document


def install_health_routes(app: FastAPI, checker: HealthChecker) -> None:
    """``GET /api/v1/health``: public (status pages call it), 503 only when unhealthy."""

    @app.get(API_HEALTH_PATH, summary="Every configured service's health", tags=["health"])
    async def services_health() -> JSONResponse:
        report, state = await checker.aggregate()
        return JSONResponse(
            response_body(report, state),
            status_code=response_status(report),
            headers={"cache-control": "no-store"},
        )
