"""The one Redis round trip of a request: ``policy.lua`` run with the request's keys and limits."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

from bakery_gateway.authentication.revocation import Revocation
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.policies.circuit_breaker import CLOSED, CircuitView
from bakery_gateway.policies.rules import BucketSpec, Candidate
from bakery_gateway.settings import Scope

SCRIPT_SOURCE = resources.files("bakery_gateway.policies").joinpath("policy.lua").read_text()
# What Redis names the script by (SHA-1 of its source): EVALSHA needs no SCRIPT LOAD's answer first.
SCRIPT_SHA = hashlib.sha1(SCRIPT_SOURCE.encode()).hexdigest()  # noqa: S324 - Redis's name, no security


class ScriptingRedis(Protocol):
    async def script_load(self, script: str) -> str: ...
    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int) -> Any: ...


@dataclass(frozen=True, slots=True)
class BucketState:
    scope: Scope
    limit: int
    window_ms: int
    remaining: int
    reset_ms: int
    retry_after_ms: int


LAST_KNOWN = "last-known"


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """What Redis knows about one request, and whether its rate-limit buckets let it through."""

    revoked: bool
    subscription: dict[str, str] | None
    subscription_source: str  # "override", "cache", or LAST_KNOWN (decided without Redis)
    read_only: dict[str, str] | None
    demo_session_alive: bool
    rate_allowed: bool
    buckets: tuple[BucketState, ...]
    circuit: CircuitView = CLOSED  # the downstream service's circuit (closed when none was asked)


@dataclass(frozen=True, slots=True)
class PolicyKeys:
    jti: str | None
    tenant_id: str | None
    demo_session_id: str | None = None
    circuit_service: str | None = None  # the service whose circuit the script reads
    revocation: Revocation | None = None  # a logout's: ``jti`` is revoked by the script itself


def script_arguments(
    keys: PolicyKeys, buckets: Sequence[BucketSpec], probe_lease_ms: int = 0
) -> tuple[list[str], list[str | int]]:
    """KEYS and ARGV for ``policy.lua`` (its header documents the layout)."""
    unused = redis_keyspace.UNUSED_KEY
    tenant = keys.tenant_id
    # Only a token can be revoked here: a logout without one names no key to write.
    revocation = keys.revocation if keys.jti else None
    script_keys = [
        redis_keyspace.revoked_key(keys.jti) if keys.jti else unused,
        redis_keyspace.subscription_override_key(tenant) if tenant else unused,
        redis_keyspace.subscription_key(tenant) if tenant else unused,
        redis_keyspace.read_only_key(tenant) if tenant else unused,
        redis_keyspace.rate_limit_overrides_key(tenant) if tenant else unused,
        redis_keyspace.demo_session_key(keys.demo_session_id) if keys.demo_session_id else unused,
        (revocation.claims_cache_key if revocation else None) or unused,
        *(redis_keyspace.rate_limit_key(bucket.key_suffix) for bucket in buckets),
        redis_keyspace.circuit_key(keys.circuit_service) if keys.circuit_service else unused,
    ]
    arguments: list[str | int] = [_bucket_argument(bucket.scope, bucket.candidates) for bucket in buckets]
    arguments.append(probe_lease_ms if keys.circuit_service else 0)
    arguments.append(revocation.ttl_seconds if revocation else 0)
    return script_keys, arguments


@lru_cache(maxsize=1024)
def _bucket_argument(scope: Scope, candidates: tuple[Candidate, ...]) -> str:
    """A bucket's ARGV entry: the same few rules give every request's, so each is built once."""
    return scope.value + "".join(
        f"|{candidate.plan or ''},{candidate.requests},{candidate.window_seconds * 1000}"
        for candidate in candidates
    )


# The script answers a scope by its value: as text, or as bytes from a client that does not decode.
_SCOPES: dict[str | bytes, Scope] = {
    **{scope.value: scope for scope in Scope},
    **{scope.value.encode(): scope for scope in Scope},
}


def parse_answer(answer: Sequence[Any]) -> PolicySnapshot:
    revoked, subscription, source, read_only, demo_alive, allowed, *flat = answer[:-4]
    buckets = tuple(
        BucketState(
            _SCOPES[flat[index]],
            int(flat[index + 1]),
            int(flat[index + 2]),
            int(flat[index + 3]),
            int(flat[index + 4]),
            int(flat[index + 5]),
        )
        for index in range(0, len(flat), 6)
    )
    return PolicySnapshot(
        revoked=bool(revoked),
        subscription=_hash(subscription),
        subscription_source=_text(source),
        read_only=_hash(read_only),
        demo_session_alive=bool(demo_alive),
        rate_allowed=bool(allowed),
        buckets=buckets,
        circuit=CircuitView.from_script(*answer[-4:]),
    )


class PolicyScript:
    """``policy.lua`` by EVALSHA of its digest, computed here: one round trip from a container's first
    request on, whenever the server holds the script (any container loaded it). A server that does not
    (new, flushed, failed over) answers NOSCRIPT: the requests in flight then share one SCRIPT LOAD and
    each sends its EVALSHA again. One per event loop (``PolicyEngine``), as its client."""

    def __init__(self, redis: ScriptingRedis) -> None:
        self._redis = redis
        self._loading: asyncio.Future[str] | None = None

    async def run(
        self, keys: PolicyKeys, buckets: Sequence[BucketSpec], probe_lease_ms: int = 0
    ) -> PolicySnapshot:
        from redis.exceptions import NoScriptError

        script_keys, arguments = script_arguments(keys, buckets, probe_lease_ms)
        try:
            answer = await self._redis.evalsha(SCRIPT_SHA, len(script_keys), *script_keys, *arguments)
        except NoScriptError:
            await self._load()
            answer = await self._redis.evalsha(SCRIPT_SHA, len(script_keys), *script_keys, *arguments)
        return parse_answer(answer)

    async def _load(self) -> None:
        """One SCRIPT LOAD for every request that met NOSCRIPT meanwhile; a failed one fails them all
        (an outage, as their EVALSHA would have) and the next NOSCRIPT loads again."""
        if self._loading is None:
            loading = asyncio.ensure_future(self._redis.script_load(SCRIPT_SOURCE))
            loading.add_done_callback(self._loaded)
            self._loading = loading
        # shield: a cancelled request (its client gone) does not cancel the others' load.
        await asyncio.shield(self._loading)

    def _loaded(self, loading: asyncio.Future[str]) -> None:
        self._loading = None
        if not loading.cancelled():
            loading.exception()  # retrieved here too: no "never retrieved" warning when nobody waits


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _hash(flat: Any) -> dict[str, str] | None:
    if not flat:
        return None
    items = [_text(item) for item in flat]
    return dict(zip(items[::2], items[1::2], strict=True))
