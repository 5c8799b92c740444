"""``POST /api/v1/geocode``: addresses to coordinates through Nominatim, within its usage policy.

Nominatim's policy (https://operations.osmfoundation.org/policies/nominatim/): at most one request
per second for the whole application, a User-Agent that identifies it, results cached. So: every
answer is cached in Redis under a hash of the normalised query, and a cache hit answers without
Nominatim; a miss first takes the one shared slot (``SET NX`` in Redis, waiting up to
``MAX_SLOT_WAIT_SECONDS``), holds it while Nominatim answers and for one second after, then frees
it. Without Redis the rule cannot be kept: 503. ``docs/geocoding.md``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from starlette.responses import Response

from bakery_gateway import bounded_json
from bakery_gateway.api.routes import GEOCODE_PATH
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.errors import (
    BadDownstreamResponseError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    GeocodingBusyError,
    StateUnavailableError,
)
from bakery_gateway.forwarding import routing
from bakery_gateway.own_routes.geocoding_request import GeocodeQuery, parse_geocode_request
from bakery_gateway.settings import GeocodingSettings
from bakery_gateway.telemetry.observability import logger

GEOCODING_SERVICE = "geocoding"  # the service label of this route's metrics and logs
SEARCH_PATH = "/search"
# ODbL 1.0 asks every user of the data to credit OpenStreetMap.
ATTRIBUTION = "Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright"
# How long a request waits for the shared slot before it is answered 503: one lookup in flight and
# its one-second cool-down, so the second caller of a second gets its answer; a queue never builds.
MAX_SLOT_WAIT_SECONDS = 2.0
# While another request is in flight, look again this often (its end is not known in advance).
IN_FLIGHT_POLL_SECONDS = 0.05
# Up to this much is added to each pause, so containers waiting for one slot do not all ask at once.
SLOT_JITTER_SECONDS = 0.02
# Nominatim's 429 without a usable Retry-After: every container stays away this long.
DEFAULT_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600
STATE_RETRY_AFTER_SECONDS = 5
# What a failed Redis call raises (a timeout is a RedisError too).
_REDIS_FAILURES = (RedisError, OSError)
_UNREACHABLE = "the geocoding service could not be reached"
_INVALID = "the geocoding service sent an invalid answer"


def geocode_route(raw_path: str) -> routing.Route:
    """The gateway's own route, as the policies and metrics see it (no service behind it)."""
    return routing.gateway_route(raw_path, GEOCODE_PATH, GEOCODING_SERVICE)


@dataclass(frozen=True, slots=True)
class GeocodeAnswer:
    query: GeocodeQuery
    results: Sequence[dict[str, Any]]
    cached: bool
    upstream_ms: float | None = None  # time spent with Nominatim; None when it was not asked

    def document(self) -> dict[str, Any]:
        """The stable JSON shape of the route (docs/geocoding.md)."""
        return {
            "query": self.query.document(),
            "results": list(self.results),
            "cached": self.cached,
            "attribution": ATTRIBUTION,
        }


class Geocoder:
    """Cache, shared rate slot and Nominatim, with clients handed in (one per event loop)."""

    def __init__(
        self,
        settings: GeocodingSettings,
        *,
        redis_clients: PerEventLoop[Any],
        http_clients: PerEventLoop[Any],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._redis_clients = redis_clients
        self._http_clients = http_clients
        self._sleep = sleep
        self._monotonic = monotonic
        self._search_url = settings.nominatim_url.rstrip("/") + SEARCH_PATH

    async def respond(self, body: bytes, headers: Sequence[tuple[str, str]], state: Any) -> Response:
        """The answer to one request body, with the policies' ``headers``; records upstream time."""
        answer = await self.geocode(parse_geocode_request(body))
        state.downstream_ms = answer.upstream_ms
        response = Response(
            content=json.dumps(answer.document(), ensure_ascii=False, separators=(",", ":")).encode(),
            media_type="application/json",
        )
        response.raw_headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return response

    async def geocode(self, query: GeocodeQuery) -> GeocodeAnswer:
        redis = self._redis_clients.get()
        key = redis_keyspace.geocode_result_key(query.fingerprint())
        cached = await self._cached(redis, key)
        if cached is not None:
            return GeocodeAnswer(query, cached, cached=True)
        if await self._take_slot(redis):
            # While this request waited, another may have asked the same and cached the answer.
            cached = await self._cached(redis, key)
            if cached is not None:
                await self._hold_slot(redis, None)  # Nominatim was not asked: free the slot at once
                return GeocodeAnswer(query, cached, cached=True)
        hold = (redis_keyspace.GEOCODE_SLOT_COOL_DOWN, redis_keyspace.GEOCODE_INTERVAL_MILLISECONDS)
        started = time.perf_counter()
        try:
            payload = await self._search(query)
        except _SlowDownError as slow_down:
            hold = (redis_keyspace.GEOCODE_SLOT_BACK_OFF, slow_down.seconds * 1000)
            raise DownstreamUnavailableError(
                "the geocoding service asked us to slow down; retry after the time in Retry-After",
                headers={"Retry-After": str(slow_down.seconds)},
            ) from None
        finally:
            upstream_ms = round((time.perf_counter() - started) * 1000, 3)
            # The interval counts from Nominatim's answer, so that whatever the next request's
            # connection costs, it cannot arrive less than a second after this one did.
            await self._hold_slot(redis, hold)
        results = shape_results(payload)
        await self._store(redis, key, results)
        return GeocodeAnswer(query, results, cached=False, upstream_ms=upstream_ms)

    async def _cached(self, redis: Any, key: str) -> list[dict[str, Any]] | None:
        try:
            raw = await redis.get(key)
        except _REDIS_FAILURES as error:
            raise _state_unavailable(error) from None
        if raw is None:
            return None
        try:
            results = bounded_json.loads(raw, max_bytes=bounded_json.STORED_RECORD_BYTES)
        except ValueError:
            return None  # unreadable: asked again, and overwritten
        return results if isinstance(results, list) else None

    async def _store(self, redis: Any, key: str, results: list[dict[str, Any]]) -> None:
        """Cache the answer; a failure costs only a later lookup, so the client still gets it."""
        try:
            await redis.set(key, json.dumps(results, separators=(",", ":")), ex=self._settings.cache_seconds)
        except _REDIS_FAILURES as error:
            logger.warning("geocoding answer not cached", extra={"error": type(error).__name__})

    async def _take_slot(self, redis: Any) -> bool:
        """Wait for Nominatim's shared slot and hold it while in flight; True when the request waited."""
        # Held in flight for at most the call's deadline plus one interval, should this container die.
        lease_ms = (
            math.ceil(self._settings.timeout_seconds * 1000) + redis_keyspace.GEOCODE_INTERVAL_MILLISECONDS
        )
        deadline = self._monotonic() + MAX_SLOT_WAIT_SECONDS
        waited = False
        while True:
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.set(
                        redis_keyspace.GEOCODE_SLOT_KEY,
                        redis_keyspace.GEOCODE_SLOT_IN_FLIGHT,
                        nx=True,
                        px=lease_ms,
                    )
                    pipe.get(redis_keyspace.GEOCODE_SLOT_KEY)
                    pipe.pttl(redis_keyspace.GEOCODE_SLOT_KEY)
                    taken, holder, remaining_ms = await pipe.execute()
                if isinstance(holder, str):  # a client that decodes replies
                    holder = holder.encode()
            except _REDIS_FAILURES as error:
                raise _state_unavailable(error) from None
            if taken:
                return waited
            left = deadline - self._monotonic()
            # A cool-down or back-off ends exactly when its TTL does; a request in flight may end any
            # moment: look again soon. -2: gone between the commands, try again now.
            remaining = max(0, remaining_ms) / 1000
            known_end = holder is not None and holder != redis_keyspace.GEOCODE_SLOT_IN_FLIGHT
            pause = remaining if known_end else min(remaining, IN_FLIGHT_POLL_SECONDS)
            pause += random.uniform(0.001, SLOT_JITTER_SECONDS)  # noqa: S311 - spreads waiters, not security
            if pause > left:
                retry_after = remaining if known_end else redis_keyspace.GEOCODE_INTERVAL_MILLISECONDS / 1000
                raise GeocodingBusyError(
                    "the geocoding service takes one request per second; retry after the time in Retry-After",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
                )
            waited = True
            await self._sleep(pause)

    async def _hold_slot(self, redis: Any, hold: tuple[bytes, int] | None) -> None:
        """Turn this request's in-flight hold into ``hold`` (value, ms), or free the slot (None)."""
        try:
            if hold is None:
                await redis.delete(redis_keyspace.GEOCODE_SLOT_KEY)
            else:
                await redis.set(redis_keyspace.GEOCODE_SLOT_KEY, hold[0], px=hold[1])
        except _REDIS_FAILURES as error:
            # The in-flight lease still expires by itself; only throughput suffers meanwhile.
            logger.warning("geocoding slot not released", extra={"error": type(error).__name__})

    async def _search(self, query: GeocodeQuery) -> Any:
        """Nominatim's JSON for ``query``; its failures as 502/503/504 problems."""
        import httpx

        headers = {"user-agent": self._settings.user_agent, "accept": "application/json"}
        if query.language:
            headers["accept-language"] = query.language
        timeout = self._settings.timeout_seconds
        try:
            # httpx's timeouts are per operation; the deadline bounds an answer that trickles in.
            async with asyncio.timeout(timeout):
                response = await self._http_clients.get().get(
                    self._search_url, params=query.search_parameters(), headers=headers, timeout=timeout
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            raise DownstreamUnavailableError(_UNREACHABLE) from None
        except (httpx.TimeoutException, TimeoutError):
            raise DownstreamTimeoutError("the geocoding service did not answer in time") from None
        except httpx.HTTPError:
            raise BadDownstreamResponseError(_INVALID) from None
        if response.status_code == 429:
            raise _SlowDownError(response.headers.get("retry-after"))
        if response.status_code != 200:
            raise BadDownstreamResponseError(f"the geocoding service answered {response.status_code}")
        try:
            return bounded_json.loads(
                response.content,
                max_bytes=bounded_json.SERVICE_ANSWER_BYTES,
                max_depth=bounded_json.SERVICE_ANSWER_DEPTH,
            )
        except ValueError:
            raise BadDownstreamResponseError(_INVALID) from None


class _SlowDownError(Exception):
    """Nominatim answered 429: every container stays away for ``seconds``."""

    def __init__(self, retry_after: str | None) -> None:
        seconds = (
            int(retry_after) if retry_after and retry_after.strip().isdigit() else DEFAULT_BACKOFF_SECONDS
        )
        self.seconds = min(max(1, seconds), MAX_BACKOFF_SECONDS)
        super().__init__(f"back off {self.seconds} s")


def shape_results(payload: object) -> list[dict[str, Any]]:
    """Nominatim's ``jsonv2`` results in our documented shape; 502 when they are not results."""
    if not isinstance(payload, list):
        raise BadDownstreamResponseError(_INVALID)
    return [shape_result(entry) for entry in payload]


def shape_result(entry: object) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("display_name"), str):
        raise BadDownstreamResponseError(_INVALID)
    address = entry.get("address")
    return {
        "display_name": entry["display_name"],
        "latitude": _coordinate(entry.get("lat"), 90),
        "longitude": _coordinate(entry.get("lon"), 180),
        # jsonv2 says "category"; the older json format said "class".
        "category": _text(entry.get("category", entry.get("class"))),
        "type": _text(entry.get("type")),
        "importance": _number(entry.get("importance")),
        "osm_type": _text(entry.get("osm_type")),
        "osm_id": entry.get("osm_id") if isinstance(entry.get("osm_id"), int) else None,
        "address": {str(name): value for name, value in address.items() if isinstance(value, str)}
        if isinstance(address, dict)
        else {},
        "bounding_box": _bounding_box(entry.get("boundingbox")),
    }


def _coordinate(value: object, limit: float) -> float:
    number = _number(value)
    if number is None or abs(number) > limit:
        raise BadDownstreamResponseError(_INVALID)
    return number


def _number(value: object) -> float | None:
    """A finite number from Nominatim, which sends most of them as strings."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bounding_box(value: object) -> list[float] | None:
    """``[south, north, west, east]`` (Nominatim's order: min lat, max lat, min lon, max lon)."""
    if not isinstance(value, list) or len(value) != 4:
        return None
    numbers = [_number(part) for part in value]
    return [number for number in numbers if number is not None] if None not in numbers else None


def _state_unavailable(error: Exception) -> StateUnavailableError:
    logger.warning("geocoding state unavailable", extra={"error": type(error).__name__})
    return StateUnavailableError(
        "geocoding needs the gateway's shared state to keep Nominatim's rate limit; retry shortly",
        headers={"Retry-After": str(STATE_RETRY_AFTER_SECONDS)},
    )
