"""A circuit breaker per downstream service, its state in Redis and shared by every container.

Reading the state costs nothing extra: ``policy.lua`` reads the service's circuit in the request's one
round trip and hands back a ``CircuitView`` (and, once the circuit has been open long enough, the
half-open probe lease to exactly one request). Writing happens only when there is news: a failure,
or a success that ends a run of failures or a probe. A healthy service therefore costs no write.

Without Redis the breakers fail open: requests go through, and the outage is logged and counted.
See docs/resilience.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.errors import ServiceCircuitOpenError
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.observability import CIRCUIT_STATE, REDIS_ERRORS, logger

# A run of failures with none for this long is forgotten; so is an open circuit nobody probed.
MEMORY_SECONDS: Final = 300
# Statuses that mean the service (or what is in front of it) is failing, not the request.
FAILURE_STATUSES: Final = frozenset({502, 503, 504})
OUTAGE_LOG_INTERVAL_SECONDS: Final = 60

# KEYS[1] the circuit hash. ARGV: failed (1/0), probe (1/0), threshold, open ms, memory ms.
# Returns { state, failures }.
RECORD_SCRIPT: Final = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local key = KEYS[1]
local failed, probe = ARGV[1] == '1', ARGV[2] == '1'
local threshold, open_ms, memory_ms = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local opened_until = tonumber(redis.call('HGET', key, 'opened_until') or 0)
local function open()
  redis.call('HSET', key, 'opened_until', now + open_ms)
  redis.call('HDEL', key, 'failures', 'probe_until')
  redis.call('PEXPIRE', key, open_ms + memory_ms)
  return { 'open', 0 }
end
if not failed then
  -- A request let in before the circuit opened proves nothing about now: only the probe closes it.
  if probe or opened_until == 0 then
    redis.call('DEL', key)
    return { 'closed', 0 }
  end
  return { opened_until > now and 'open' or 'half-open', 0 }
end
if probe then return open() end
if opened_until > 0 then return { opened_until > now and 'open' or 'half-open', 0 } end
local failures = redis.call('HINCRBY', key, 'failures', 1)
if failures >= threshold then return open() end
redis.call('PEXPIRE', key, memory_ms)
return { 'closed', failures }
"""


class CircuitState(IntEnum):
    """The values of ``gateway_circuit_state``."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


_STATES: Final = {
    "closed": CircuitState.CLOSED,
    "half-open": CircuitState.HALF_OPEN,
    "open": CircuitState.OPEN,
}


@dataclass(frozen=True, slots=True)
class CircuitView:
    """A service's circuit as the request's policy round trip saw it."""

    state: CircuitState = CircuitState.CLOSED
    probe: bool = False  # this request holds the half-open probe lease
    failures: int = 0  # the current run of failures (closed only)
    retry_after_ms: int = 0
    known: bool = True  # False: Redis could not say, and the breaker fails open

    @classmethod
    def from_script(cls, state: Any, probe: Any, failures: Any, retry_after_ms: Any) -> CircuitView:
        text = state.decode() if isinstance(state, bytes) else str(state)
        return cls(_STATES[text], bool(int(probe)), int(failures), int(retry_after_ms))

    @property
    def admits(self) -> bool:
        return self.state is CircuitState.CLOSED or self.probe


CLOSED: Final = CircuitView()
UNKNOWN: Final = CircuitView(known=False)


def is_failure(status: int) -> bool:
    return status in FAILURE_STATUSES


class CircuitBreakers:
    """Admission by a request's ``CircuitView``, and the outcomes that move a circuit."""

    def __init__(self, settings: Settings, *, redis_clients: PerEventLoop[Any]) -> None:
        self.threshold = settings.circuit_failure_threshold
        self._open_ms = round(settings.circuit_open_seconds * 1000)
        # The probe holds its lease for as long as a forwarded request may take, and a second more.
        deadline = settings.downstream_connect_timeout_seconds + settings.downstream_read_timeout_seconds
        self.probe_lease_ms = round(deadline * 1000) + 1000 if self.threshold > 0 else 0
        self._scripts = PerEventLoop(lambda: redis_clients.get().register_script(RECORD_SCRIPT))
        self._outage_logged_at = -float(OUTAGE_LOG_INTERVAL_SECONDS)

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    def admit(self, service: str, view: CircuitView) -> None:
        """Raise the 503 problem when the circuit refuses; show its state on the gauge either way."""
        if not view.known:
            return
        CIRCUIT_STATE.labels(service).set(view.state)
        if view.admits:
            return
        seconds = max(1, -(-view.retry_after_ms // 1000))
        raise ServiceCircuitOpenError(
            f"the {service} service is failing; the gateway stops calling it for a while",
            headers={"Retry-After": str(seconds)},
            extensions={"service": service, "circuit": view.state.name.lower().replace("_", "-")},
        )

    async def record(self, service: str, view: CircuitView, *, failed: bool) -> None:
        """Tell the shared circuit how the call went, when that changes anything."""
        if not self.enabled or not (failed or view.probe or view.failures > 0):
            return
        try:
            state, _ = await self._scripts.get()(
                keys=[redis_keyspace.circuit_key(service)],
                args=[int(failed), int(view.probe), self.threshold, self._open_ms, MEMORY_SECONDS * 1000],
            )
        except Exception as error:  # redis-py raises several unrelated types for one outage
            REDIS_ERRORS.labels("circuit").inc()
            self._log_outage(service, error)
            return
        new_state = _STATES[state.decode() if isinstance(state, bytes) else str(state)]
        CIRCUIT_STATE.labels(service).set(new_state)
        if new_state is not view.state:
            logger.warning(
                "circuit changed",
                extra={"service": service, "circuit": new_state.name.lower(), "failed": failed},
            )

    def _log_outage(self, service: str, error: Exception) -> None:
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_SECONDS:
            self._outage_logged_at = now
            logger.error(
                "Redis unavailable: circuit breakers fail open (requests go through)",
                extra={"service": service, "error": type(error).__name__},
            )
