"""The policy function's application: tenant policy administration, and the tenant service's pushes.

    GET    /api/v1/admin/tenants/{tenant_id}/policy         the tenant's policy state
    PUT    /api/v1/admin/tenants/{tenant_id}/read-only      {reason, detail?}; DELETE lifts it
    PUT    /api/v1/admin/tenants/{tenant_id}/subscription   a subscription override; DELETE removes it
    PUT    /api/v1/admin/tenants/{tenant_id}/rate-limits    {user?, tenant?}; DELETE removes both
    GET    /api/v1/admin/tenants/{tenant_id}/audit?limit=50 the tenant's audit records, newest first
    POST, GET /api/v1/admin/tenants/{tenant_id}/api-keys; DELETE .../api-keys/{key_id} (api_key_admin.py)
    POST   /api/v1/internal/subscription-events             the tenant service's push

Admin routes need the ``platform_admin`` role; the push also accepts the tenant service's token.
The proxy reads what these routes write on its next request: there is no other cache to clear.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bakery_gateway import __version__
from bakery_gateway.api.identity import Identity
from bakery_gateway.api.request import request_in
from bakery_gateway.api.routes import SUBSCRIPTION_EVENTS_PATH
from bakery_gateway.authentication import revocation
from bakery_gateway.authentication.caller import caller_identity
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.constants import PLATFORM_ADMIN_ROLE, TENANT_SERVICE_ROLE
from bakery_gateway.edge.middleware import NO_OPENTELEMETRY, RequestContextMiddleware, send_problem
from bakery_gateway.edge.problem_handlers import install_problem_handlers
from bakery_gateway.errors import (
    ForbiddenRoleError,
    GatewayError,
    RedisUnavailableError,
    StateUnavailableError,
    TokenRevokedError,
)
from bakery_gateway.policies import audit
from bakery_gateway.policies.admin_bodies import (
    RateLimitsBody,
    ReadOnlyBody,
    SubscriptionBody,
    SubscriptionEventBody,
    checked_tenant_id,
    invalid_field,
    parse_body,
)
from bakery_gateway.policies.api_key_admin import install_api_key_routes
from bakery_gateway.policies.store import TenantPolicyStore
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.pseudonymize import user_id_for_log
from bakery_gateway.telemetry.request_record import RequestRecorder

TENANT_ROUTES = "/api/v1/admin/tenants/{tenant_id}"
ADMIN_ROLES = frozenset({PLATFORM_ADMIN_ROLE})
PUBLISHER_ROLES = frozenset({TENANT_SERVICE_ROLE, PLATFORM_ADMIN_ROLE})
AUDIT_DEFAULT_LIMIT = 50
AUDIT_MAX_LIMIT = 500
PolicyDocument = dict[str, Any]


def create_admin_app(
    settings: Settings, *, redis_clients: PerEventLoop[Any], clock: Callable[[], float] = time.time
) -> FastAPI:
    """The policy function's FastAPI application, with its Redis clients handed in (one per loop)."""
    app = FastAPI(
        title="Bakery-IA tenant policy administration",
        version=__version__,
        openapi_url=None,  # API Gateway routes nothing but the paths above to this function
        telemetry=NO_OPENTELEMETRY,
    )
    # Added first, so it runs inside the request context (the request id) and before routing.
    app.add_middleware(AuthenticatedFirst, leeway_seconds=settings.jwt.leeway_seconds, clock=clock)
    app.add_middleware(
        RequestContextMiddleware,
        recorder=RequestRecorder(user_id_for_log=user_id_for_log(settings.observability)),
    )

    def store() -> TenantPolicyStore:
        return TenantPolicyStore(
            redis_clients.get(),
            subscription_cache_seconds=settings.policy.subscription_cache_seconds,
            clock=clock,
        )

    async def authorized(request: Request, roles: frozenset[str]) -> audit.Actor:
        """The caller, if it holds one of ``roles`` and its token was not revoked; else a problem."""
        identity: Identity = request.state.identity  # AuthenticatedFirst's
        if roles.isdisjoint(identity.roles):
            needed = " or ".join(sorted(roles))
            raise ForbiddenRoleError(
                f"this route needs the role {needed}", extensions={"required_roles": sorted(roles)}
            )
        # API Gateway may answer from a cached authorizer verdict: a logged-out token ends here.
        if await revocation.is_revoked(redis_clients.get(), identity.jti):
            raise TokenRevokedError("token revoked")
        return audit.Actor(identity.user_id, request.state.request_id)

    def tenant(request: Request, tenant_id: str) -> str:
        request.state.tenant_id = checked_tenant_id(tenant_id)
        return tenant_id

    async def operating_on(request: Request, tenant_id: str) -> tuple[audit.Actor, str]:
        """An operator's change to ``tenant_id``: who makes it, and the checked tenant id."""
        return await authorized(request, ADMIN_ROLES), tenant(request, tenant_id)

    async def audited(change: Awaitable[audit.AuditRecord | None]) -> None:
        """Make a change and log its audit record (its stream entry is written with the change)."""
        record = await change
        if record is not None:
            audit.log_change(record)

    async def policy_after(tenant_id: str, change: Awaitable[audit.AuditRecord | None]) -> PolicyDocument:
        """Make a change, and answer with the tenant's policy as it now is."""
        await audited(change)
        return (await store().read(tenant_id)).to_json()

    async def removed(change: Awaitable[audit.AuditRecord | None]) -> Response:
        """Make a removal, and answer 204."""
        await audited(change)
        return Response(status_code=204)

    @app.get(TENANT_ROUTES + "/policy")
    async def read_policy(request: Request, tenant_id: str) -> PolicyDocument:
        await authorized(request, ADMIN_ROLES)
        return (await store().read(tenant(request, tenant_id))).to_json()

    @app.put(TENANT_ROUTES + "/read-only")
    async def set_read_only(request: Request, tenant_id: str) -> PolicyDocument:
        actor, tenant_id = await operating_on(request, tenant_id)
        body = parse_body(ReadOnlyBody, await request.body())
        return await policy_after(
            tenant_id, store().set_read_only(tenant_id, body.reason, body.detail, actor)
        )

    @app.delete(TENANT_ROUTES + "/read-only", status_code=204)
    async def lift_read_only(request: Request, tenant_id: str) -> Response:
        actor, tenant_id = await operating_on(request, tenant_id)
        return await removed(store().lift_read_only(tenant_id, actor))

    @app.put(TENANT_ROUTES + "/subscription")
    async def set_subscription_override(request: Request, tenant_id: str) -> PolicyDocument:
        actor, tenant_id = await operating_on(request, tenant_id)
        subscription = parse_body(SubscriptionBody, await request.body()).to_subscription()
        return await policy_after(
            tenant_id, store().set_subscription_override(tenant_id, subscription, actor)
        )

    @app.delete(TENANT_ROUTES + "/subscription", status_code=204)
    async def remove_subscription_override(request: Request, tenant_id: str) -> Response:
        actor, tenant_id = await operating_on(request, tenant_id)
        return await removed(store().remove_subscription_override(tenant_id, actor))

    @app.put(TENANT_ROUTES + "/rate-limits")
    async def set_rate_limits(request: Request, tenant_id: str) -> PolicyDocument:
        actor, tenant_id = await operating_on(request, tenant_id)
        overrides = parse_body(RateLimitsBody, await request.body()).to_overrides()
        return await policy_after(tenant_id, store().set_rate_limit_overrides(tenant_id, overrides, actor))

    @app.delete(TENANT_ROUTES + "/rate-limits", status_code=204)
    async def remove_rate_limits(request: Request, tenant_id: str) -> Response:
        actor, tenant_id = await operating_on(request, tenant_id)
        return await removed(store().remove_rate_limit_overrides(tenant_id, actor))

    @app.get(TENANT_ROUTES + "/audit")
    async def audit_trail(request: Request, tenant_id: str) -> PolicyDocument:
        await authorized(request, ADMIN_ROLES)
        tenant_id = tenant(request, tenant_id)
        records = await store().audit_trail(tenant_id, audit_limit(request.query_params.get("limit")))
        return {"tenant_id": tenant_id, "records": [record.to_json() for record in records]}

    @app.post(SUBSCRIPTION_EVENTS_PATH, status_code=204)
    async def subscription_event(request: Request) -> Response:
        actor = await authorized(request, PUBLISHER_ROLES)
        event = parse_body(SubscriptionEventBody, await request.body()).checked()
        tenant_id = tenant(request, event.tenant_id)
        if event.subscription is None:
            await audited(store().invalidate_subscription(tenant_id, actor))
        else:
            subscription = event.subscription.to_subscription("subscription.")
            await audited(store().cache_subscription(tenant_id, subscription, actor))
        return Response(status_code=204)

    async def operator(request: Request) -> audit.Actor:
        return await authorized(request, ADMIN_ROLES)

    install_api_key_routes(app, authorized=operator, tenant=tenant, redis_clients=redis_clients, clock=clock)
    install_problem_handlers(app)
    install_state_unavailable_handler(app)
    return app


class AuthenticatedFirst:
    """Every route of the policy function sits behind the authorizer, so the caller is checked before
    routing: an unauthenticated request gets its 401 problem whatever its path (FastAPI would redirect
    a trailing slash, 307, or answer an unknown route 404, before any route could refuse it)."""

    def __init__(self, app: ASGIApp, *, leeway_seconds: int, clock: Callable[[], float]) -> None:
        self.app = app
        self.leeway_seconds = leeway_seconds
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope["state"]
            try:
                identity = caller_identity(
                    request_in(scope).verdict, leeway_seconds=self.leeway_seconds, clock=self.clock
                )
            except GatewayError as refusal:
                await send_problem(send, refusal, state["request_id"])
                return
            state["identity"], state["user_id"] = identity, identity.user_id
        await self.app(scope, receive, send)


def audit_limit(text: str | None) -> int:
    if text is None:
        return AUDIT_DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= AUDIT_MAX_LIMIT:
        raise invalid_field("limit", f"must be a whole number from 1 to {AUDIT_MAX_LIMIT}")
    return int(text)


def install_state_unavailable_handler(app: FastAPI) -> None:
    """Redis failing under any route is a 503 problem: no policy change is ever half made or guessed."""
    # install_problem_handlers registered it: the one place a GatewayError becomes a response.
    on_gateway_error = cast(
        Callable[[Request, Exception], Awaitable[Response]], app.exception_handlers[GatewayError]
    )

    async def on_redis_unavailable(request: Request, error: Exception) -> Response:
        unavailable = StateUnavailableError(
            "the tenant policy store cannot be reached; retry shortly", headers={"Retry-After": "5"}
        )
        return await on_gateway_error(request, unavailable)

    app.add_exception_handler(RedisUnavailableError, on_redis_unavailable)
