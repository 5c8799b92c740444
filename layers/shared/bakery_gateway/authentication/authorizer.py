"""The Lambda authorizer: verifies the bearer token and hands the proxy its verdict.

Behind an HTTP API, a denial (``isAuthorized: false``) becomes API Gateway's own bare 403, and there
is no way to return a 401 from the authorizer. So the authorizer always allows the call through and
puts its verdict in the context: an identity when the token is good, ``authenticated: false`` and a
reason when it is not. The proxy answers the refusal as a 401 problem before it does anything else.
API Gateway caches that verdict per token; the proxy still re-checks expiry and revocation on every
request, so the cache can neither extend a token's life nor outlive a logout.

API keys (``authentication/api_keys.py``, docs/api-keys.md) come as ``Authorization: ApiKey <key>``, or as
``X-API-Key`` only when the request has no ``Authorization`` header: API Gateway caches a verdict by
the identity source (``Authorization``) alone, so a verdict must never depend on another header
there. A key's verdict is the same kind of identity, for the principal ``api-key:<id>``.

The WebSocket API's ``$connect`` is the exception: its REQUEST authorizer answers an IAM policy and
denies a refused token (``edge/authorizer_events.py``), since no function could answer a 401 there.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bakery_gateway import bounded_json
from bakery_gateway.api.demo import DemoSession
from bakery_gateway.api.identity import Identity, Unauthenticated, Verdict
from bakery_gateway.api.request import Request
from bakery_gateway.api.routes import QUERY_TOKEN_ROUTE_KEYS
from bakery_gateway.authentication import api_keys
from bakery_gateway.authentication.credentials import QUERY_TOKEN_PARAMETER, api_key, bearer_token
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import (
    DemoAccountTypeRefusedError,
    DemoSessionExpiredError,
    InvalidApiKeyError,
    InvalidDemoAccountTypeError,
    InvalidTokenError,
    TokenKeysUnavailableError,
    TokenRevokedError,
)
from bakery_gateway.telemetry.observability import (
    AUTH_ATTEMPTS,
    AUTH_CACHE_HITS,
    AUTH_CACHE_MISSES,
    REDIS_ERRORS,
    logger,
)


class SyncRedisPipeline(Protocol):
    def get(self, name: str) -> object: ...
    def exists(self, *names: str) -> object: ...
    def hgetall(self, name: str) -> object: ...
    def execute(self) -> list[Any]: ...


class SyncRedis(Protocol):
    def pipeline(self, transaction: bool = True) -> SyncRedisPipeline: ...
    def set(self, name: str, value: str, ex: int | None = None) -> object: ...


class Verifier(Protocol):
    """Verifies one token: ``token_verifier.TokenVerifier``, or ``reloading_verifier.ColdStartVerifier``
    around one."""

    @property
    def leeway_seconds(self) -> int: ...

    def verify(self, token: str) -> Identity: ...


class Authorizer:
    """Verifies tokens, with their validated claims cached in Redis and revocation checked there."""

    def __init__(
        self, verifier: Verifier, redis: SyncRedis, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._verifier = verifier
        self._redis = redis
        self._clock = clock

    def authorize(self, token: str) -> Verdict:
        verdict = self._authorize(token)
        AUTH_ATTEMPTS.labels("success" if isinstance(verdict, Identity) else "failure").inc()
        if isinstance(verdict, Unauthenticated):
            logger.info("token refused", extra={"reason": verdict.reason})
        return verdict

    def authorize_api_key(self, key: str) -> Verdict:
        verdict = self._authorize_api_key(key)
        AUTH_ATTEMPTS.labels("success" if isinstance(verdict, Identity) else "failure").inc()
        if isinstance(verdict, Unauthenticated):
            logger.info("API key refused", extra={"reason": verdict.reason})  # never the key
        return verdict

    def _authorize_api_key(self, key: str) -> Verdict:
        """One HGETALL by the key's public id, then its hash compared in constant time."""
        refused = InvalidApiKeyError.problem_type
        key_id = api_keys.parse_key_id(key)
        if key_id is None:
            return Unauthenticated("malformed API key", refused)
        try:
            pipeline = self._redis.pipeline(transaction=False)
            pipeline.hgetall(redis_keyspace.api_key_key(key_id))
            (fields,) = pipeline.execute()
        except Exception:
            REDIS_ERRORS.labels("authorizer_api_key").inc()
            return Unauthenticated("the API key cannot be checked; retry shortly", "state-unavailable")
        try:
            record = api_keys.ApiKeyRecord.from_hash(key_id, fields if isinstance(fields, dict) else {})
        except (KeyError, ValueError):
            record = None
        # Unknown, revoked and wrong-secret keys get one answer: no oracle for which ids exist.
        if record is None or not record.matches(key):
            return Unauthenticated("unknown or revoked API key", refused)
        if record.expired(self._clock()):
            return Unauthenticated("API key expired", refused)
        return record.identity()

    def _authorize(self, token: str) -> Verdict:
        cache_key = redis_keyspace.claims_cache_key(token)
        peeked = _unverified_claims(token)
        found = self._lookup(cache_key, peeked)
        if found.revoked:
            return Unauthenticated("token revoked", problem_type=TokenRevokedError.problem_type)
        cached = _cached_identity(found.claims)
        if cached is not None:
            AUTH_CACHE_HITS.inc()
            identity = cached
            if identity.expires_at + self._verifier.leeway_seconds < self._clock():
                return Unauthenticated("token expired")
        else:
            AUTH_CACHE_MISSES.inc()
            try:
                identity = self._verifier.verify(token)
            except (InvalidTokenError, TokenKeysUnavailableError) as error:
                return Unauthenticated(error.detail, problem_type=error.problem_type)
            self._store(cache_key, identity)
        if identity.is_demo:
            return self._within_demo_session(identity, peeked, found)
        return identity

    def _within_demo_session(self, identity: Identity, peeked: _Peeked, found: _Found) -> Verdict:
        """A demo identity narrowed to its session's tenants; refused when the session is not live."""
        if found.unavailable:
            return Unauthenticated("the demo session cannot be checked; retry shortly", "state-unavailable")
        if not found.demo_session or peeked.demo_session_id != identity.demo_session_id:
            return Unauthenticated("demo session expired or unknown", DemoSessionExpiredError.problem_type)
        try:
            session = DemoSession.from_hash(identity.demo_session_id or "", found.demo_session)
        except InvalidDemoAccountTypeError as error:
            return Unauthenticated(error.detail, DemoAccountTypeRefusedError.problem_type)
        except ValueError:
            return Unauthenticated("demo session record malformed", DemoSessionExpiredError.problem_type)
        if session.expires_at <= self._clock():
            return Unauthenticated("demo session expired", DemoSessionExpiredError.problem_type)
        if session.account_type is not identity.demo_account_type:
            return Unauthenticated("token and demo session disagree on the account type")
        active = identity.tenant_id if identity.tenant_id in session.tenant_ids else session.parent_tenant_id
        return replace(
            identity, tenant_id=active, tenant_ids=session.tenant_ids, demo_expires_at=session.expires_at
        )

    def _lookup(self, cache_key: str, peeked: _Peeked) -> _Found:
        """Cached claims, revocation and the demo session in one round trip.

        A Redis outage only skips the cache: the proxy checks revocation on every request and fails
        safe there. A demo token cannot be placed in its session then, and is refused.
        """
        try:
            pipeline = self._redis.pipeline(transaction=False)
            pipeline.get(cache_key)
            pipeline.exists(redis_keyspace.revoked_key(peeked.jti or ""))
            if peeked.demo_session_id:
                pipeline.hgetall(redis_keyspace.demo_session_key(peeked.demo_session_id))
            cached, revoked, *session = pipeline.execute()
        except Exception:
            REDIS_ERRORS.labels("authorizer_lookup").inc()
            return _Found(None, False, None, unavailable=True)
        claims = _stored_claims(cached)
        demo_session = session[0] if session and isinstance(session[0], dict) else None
        return _Found(claims, bool(revoked) and peeked.jti is not None, demo_session)

    def _store(self, cache_key: str, identity: Identity) -> None:
        ttl = redis_keyspace.claims_cache_ttl(identity.expires_at, self._clock())
        if ttl <= 0:
            return
        try:
            self._redis.set(cache_key, json.dumps(identity.to_context()), ex=ttl)
        except Exception:
            REDIS_ERRORS.labels("authorizer_store").inc()


def authorize_http_request(authorizer: Authorizer, request: Request) -> Verdict:
    """The verdict on a request of the HTTP API: its API key's, else its bearer token's (or, on a
    route that takes one, its ``?token=``'s, see ``api.routes.HttpRoute.token_in_query``)."""
    key = api_key(request.headers)
    if key is not None:
        return authorizer.authorize_api_key(key)
    token = bearer_token(request.headers)
    if token is None and request.route_key in QUERY_TOKEN_ROUTE_KEYS:
        # Repeated, its values are joined with commas, as API Gateway's queryStringParameters join them.
        token = ",".join(request.query.get(QUERY_TOKEN_PARAMETER, ())) or None
    if token is None:
        AUTH_ATTEMPTS.labels("failure").inc()
        return Unauthenticated("no bearer token in the Authorization header")
    return authorizer.authorize(token)


@dataclass(frozen=True, slots=True)
class _Peeked:
    """Claims read before verification, only to name Redis keys for the same round trip."""

    jti: str | None = None
    demo_session_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    claims: Mapping[str, Any] | None
    revoked: bool
    demo_session: dict[str, str] | None
    unavailable: bool = False


def _stored_claims(cached: object) -> Mapping[str, Any] | None:
    """Claims this authorizer cached; None (verify the token again) when the record is unreadable."""
    if not isinstance(cached, str):
        return None
    try:
        claims = bounded_json.loads(cached, max_bytes=bounded_json.STORED_RECORD_BYTES)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def _cached_identity(claims: Mapping[str, Any] | None) -> Identity | None:
    """The identity of cached claims; None (a miss: the token is verified again) when they do not
    make one, as a record written by another version might not."""
    if claims is None:
        return None
    try:
        return Identity.from_context(claims)
    except (KeyError, ValueError, TypeError):
        return None


def _unverified_claims(token: str) -> _Peeked:
    """The token's ``jti`` and demo session id, unverified: they only name keys to fetch."""
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = bounded_json.loads(decoded, max_bytes=bounded_json.TOKEN_SEGMENT_BYTES)
    except (IndexError, ValueError):  # binascii.Error and JsonInputError are ValueErrors
        return _Peeked()
    if not isinstance(claims, dict):
        return _Peeked()
    jti, session = claims.get("jti"), claims.get("demo_session_id")
    return _Peeked(
        jti if isinstance(jti, str) else None, session if isinstance(session, str) and session else None
    )
