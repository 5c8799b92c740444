"""The proxied request's steps: identity, route, tenant, body size, every policy, then the service.

Framework-free and host-free: the steps read only the transport-neutral request (``api.request``),
so the proxy function serves ``/api/v1/{service}/**`` straight from it while the gateway's own
routes (alert stream, geocoding) reuse the same steps (``admit``) from their ASGI handlers. A step
that refuses raises a ``GatewayError``; the caller turns it into a problem response. Every answer
carries the ``RateLimit`` fields, refusals included: one refused before the policies still spends its
caller's budget (``count_refusal``). What ``admit`` learnt of a request (identity, route, tenant,
body, the service's circuit) travels on in one ``Admitted``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.api.demo import DemoAccountType, require_demo_account_type
from bakery_gateway.api.identity import Identity
from bakery_gateway.api.request import Request
from bakery_gateway.api.routes import DEMO_SESSIONS_PATH, LOGOUT_PATH, PUBLIC_ROUTE_KEYS
from bakery_gateway.authentication.api_keys import require_in_scope
from bakery_gateway.authentication.caller import caller_identity
from bakery_gateway.authentication.credentials import bearer_token
from bakery_gateway.authentication.revocation import Revocation, logout_revocation
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.constants import TENANT_ID_HEADER
from bakery_gateway.errors import (
    BadDownstreamResponseError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    GatewayError,
    JsonInputError,
    PayloadTooLargeError,
)
from bakery_gateway.forwarding import downstream, retry_budget, routing
from bakery_gateway.policies import circuit_breaker, login_attempts
from bakery_gateway.policies.circuit_breaker import CircuitView
from bakery_gateway.policies.engine import PolicyEngine, PolicyRequest
from bakery_gateway.policies.tenancy import select_tenant
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.observability import DOWNSTREAM_RETRIES


@dataclass(slots=True, eq=False)
class ProxyRequest:
    """One request on its way through the steps: the request, what its log record reports
    (``state``: request id, route template, service, user, tenant, downstream time), and when its
    answer must be ready."""

    request: Request
    state: dict[str, Any]
    # When the answer must be ready (time.monotonic()), from Lambda's context: None, no bound.
    answer_by: float | None = None

    @property
    def request_id(self) -> str:
        return str(self.state["request_id"])


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request every step before its service let through: what the steps learnt of it, the fields
    its answer carries, and its service's circuit as the policies' round trip read it. Everything
    the steps after the policies need, in one object."""

    proxied: ProxyRequest
    identity: Identity | None
    route: routing.Route
    tenant_id: str | None
    body: bytes
    headers: list[tuple[str, str]]  # RateLimit and subscription grace fields
    circuit: CircuitView = circuit_breaker.CLOSED
    circuit_service: str | None = None  # the circuit the service call counts on, when read

    @contextmanager
    def fields_on_refusal(self) -> Iterator[None]:
        """A refusal raised after the policies (a bad body, the service failing) carries their fields too."""
        try:
            yield
        except GatewayError as refusal:
            refusal.headers.update(self.headers)
            raise


@dataclass(frozen=True, slots=True)
class ProxyAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ProxyPipeline:
    """Every step a proxied request takes, with the container's clients and policy engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        redis_clients: PerEventLoop[Any],
        http_clients: PerEventLoop[Any],
        script_clients: PerEventLoop[Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.policies = PolicyEngine(
            settings,
            redis_clients=redis_clients,
            http_clients=http_clients,
            script_clients=script_clients,
            clock=clock,
        )
        self._redis_clients = redis_clients
        self._http_clients = http_clients
        self._clock = clock
        self._leeway = settings.jwt.leeway_seconds
        self._demo_service_urls = {**settings.service_urls, **settings.demo.service_urls}
        self._retries = retry_budget.RetryBudget()
        self._deadline_seconds = (
            settings.downstream_connect_timeout_seconds + settings.downstream_read_timeout_seconds
        )

    async def respond(self, proxied: ProxyRequest) -> ProxyAnswer:
        """A /api/v1 path the gateway does not serve itself: checked, then forwarded to its service."""
        admitted = await self.admit(proxied, circuit=True)
        if proxied.request.method == "POST" and admitted.route.unscoped_path == DEMO_SESSIONS_PATH:

            async def check_account_type() -> None:
                demo_account_type_of(admitted.body)

            return await self._handle(admitted, before_forwarding=check_account_type)
        return await self._handle(admitted)

    async def admit(
        self,
        proxied: ProxyRequest,
        *,
        route: routing.Route | None = None,
        client_tenant_id: str | None = None,
        circuit: bool = False,
    ) -> Admitted:
        """Every step before the service: identity (401), route (404; ``route`` for the gateway's own),
        tenant (403), body (413), then every policy and, with ``circuit``, the service's circuit, in one
        Redis round trip, its view handed on in the answer. A refusal before the policies spends the
        caller's budget all the same, and carries the ``RateLimit`` fields (429 instead once that
        budget is spent)."""
        request = proxied.request
        identity: Identity | None = None
        try:
            identity = self.authenticate(proxied)
            if route is None:
                route = self.route_for(proxied, identity)
            else:
                self.note_route(proxied, route)
            tenant_id = self.choose_tenant(proxied, identity, route, client_tenant_id)
            body = self.checked_body(request)
            names = (
                login_attempts.login_names(body, request.headers.get("content-type"))
                if login_attempts.is_login(request.method, route.unscoped_path)
                else ()
            )
        except GatewayError as refusal:
            fields = await self.policies.count_refusal(self._policy_request(proxied, identity, route, None))
            refusal.headers.update(fields)
            raise
        service = self._circuit_of(identity, route) if circuit else None
        # Judged on the normalised path in either form: every spelling of logout revokes, not only
        # the route key's, in the policies' round trip.
        logout = request.method == "POST" and route.unscoped_path == LOGOUT_PATH
        admission = await self.policies.admit(
            self._policy_request(
                proxied,
                identity,
                route,
                tenant_id,
                login_names=names,
                service=service,
                revocation=self._logout(request, identity) if logout else None,
            )
        )
        return Admitted(
            proxied, identity, route, tenant_id, body, admission.headers, admission.circuit, service
        )

    def authenticate(self, proxied: ProxyRequest) -> Identity | None:
        """The caller's identity; None on public routes. Refuses what the authorizer refused."""
        request = proxied.request
        if request.route_key in PUBLIC_ROUTE_KEYS:
            return None
        identity = caller_identity(request.verdict, leeway_seconds=self._leeway, clock=self._clock)
        proxied.state["user_id"] = identity.user_id
        return identity

    def route_for(self, proxied: ProxyRequest, identity: Identity | None) -> routing.Route:
        # Demo users' traffic goes to the isolated demo backends where they are configured.
        urls = (
            self._demo_service_urls
            if identity is not None and identity.is_demo
            else self.settings.service_urls
        )
        route = routing.resolve(proxied.request.raw_path, urls)
        self.note_route(proxied, route)
        return route

    @staticmethod
    def note_route(proxied: ProxyRequest, route: routing.Route) -> None:
        proxied.state["route_template"] = route.template
        proxied.state["service"] = route.service

    def choose_tenant(
        self,
        proxied: ProxyRequest,
        identity: Identity | None,
        route: routing.Route,
        client_tenant_id: str | None = None,
    ) -> str | None:
        """The tenant the request acts on (tenant access rules: 403 for one the token does not list)."""
        if identity is None:
            return None
        require_in_scope(identity, route.service)  # 403 for a service outside a key's scope
        chosen = proxied.request.headers.get(TENANT_ID_HEADER) or client_tenant_id
        tenant_id = select_tenant(identity, route.tenant_id, chosen)
        proxied.state["tenant_id"] = tenant_id
        return tenant_id

    def checked_body(self, request: Request) -> bytes:
        """The body, refused (413) above ``MAX_REQUEST_BYTES`` whether declared or sent."""
        limit = self.settings.max_request_bytes
        declared = request.headers.get("content-length")
        too_long = declared is not None and declared.isdigit() and int(declared) > limit
        if too_long or len(request.body) > limit:
            raise PayloadTooLargeError(
                f"request bodies are limited to {limit} bytes", extensions={"max_bytes": limit}
            )
        return request.body

    def _policy_request(
        self,
        proxied: ProxyRequest,
        identity: Identity | None,
        route: routing.Route | None,
        tenant_id: str | None,
        *,
        login_names: tuple[str, ...] = (),
        service: str | None = None,
        revocation: Revocation | None = None,
    ) -> PolicyRequest:
        request = proxied.request
        return PolicyRequest(
            identity=identity,
            tenant_id=tenant_id,
            method=request.method,
            path=route.normalized_path if route is not None else "",
            route_key=request.route_key,
            route_template=route.template if route is not None else "",
            source_ip=request.source_ip,
            request_id=proxied.request_id,
            login_attempt=route is not None and login_attempts.is_login(request.method, route.unscoped_path),
            login_names=login_names,
            service=service,
            revocation=revocation,
        )

    async def _handle(
        self, admitted: Admitted, *, before_forwarding: Callable[[], Awaitable[None]] | None = None
    ) -> ProxyAnswer:
        """What follows the policies: ``before_forwarding``, then the service; every answer, and every
        refusal, with the policies' fields."""
        with admitted.fields_on_refusal():
            if before_forwarding is not None:
                await before_forwarding()
            answer = await self._forward(admitted)
        answer.headers.extend(admitted.headers)
        return answer

    def _circuit_of(self, identity: Identity | None, route: routing.Route) -> str:
        """The circuit a request's service call counts on; demo backends fail apart from the real ones."""
        if identity is not None and identity.is_demo and route.service in self.settings.demo.service_urls:
            return f"{route.service}-demo"
        return route.service

    async def _forward(self, admitted: Admitted) -> ProxyAnswer:
        proxied, route = admitted.proxied, admitted.route
        request = proxied.request
        origin = downstream.ClientOrigin(
            source_ip=request.source_ip, protocol=request.scheme, host=request.host
        )
        headers = downstream.downstream_headers(
            request.headers.items(),
            identity=admitted.identity,
            tenant_id=admitted.tenant_id,
            request_id=proxied.request_id,
            origin=origin,
        )
        query = request.query_string
        url = route.base_url + route.path + (f"?{query}" if query else "")
        deadline_seconds = self._deadline_for(proxied, route.service)  # before any call: no circuit failure
        started = time.perf_counter()
        circuit, circuit_service = admitted.circuit, admitted.circuit_service or route.service
        self._retries.record_request()

        def retry() -> bool:
            """Once, for an idempotent method, while the container's retry budget lasts."""
            if not retry_budget.may_retry(request.method):
                return False
            allowed = self._retries.try_spend()
            DOWNSTREAM_RETRIES.labels(route.service, "retried" if allowed else "budget_exhausted").inc()
            return allowed

        try:
            answer = await downstream.forward(
                self._http_clients.get(),
                method=request.method,
                url=url,
                headers=headers,
                body=admitted.body,
                service=route.service,
                deadline_seconds=deadline_seconds,
                retry=retry,
            )
        except (DownstreamUnavailableError, DownstreamTimeoutError, BadDownstreamResponseError):
            await self.policies.circuits.record(circuit_service, circuit, failed=True)
            raise
        finally:
            proxied.state["downstream_ms"] = round((time.perf_counter() - started) * 1000, 3)
        await self.policies.circuits.record(
            circuit_service, circuit, failed=circuit_breaker.is_failure(answer.status)
        )
        response_headers = downstream.response_headers(answer.headers, proxied.request_id)
        response_headers.append(("content-length", str(len(answer.body))))
        return ProxyAnswer(answer.status, response_headers, answer.body)

    def _deadline_for(self, proxied: ProxyRequest, service: str) -> float:
        """Connect + read timeout, cut short so the answer is ready before Lambda's timeout and API
        Gateway's 30 s (``platform_limits.answer_deadline``): the client gets our 504, not theirs."""
        if proxied.answer_by is None:
            return self._deadline_seconds
        left = proxied.answer_by - time.monotonic()
        if left <= 0:
            raise DownstreamTimeoutError(f"no time was left to call the {service} service")
        return min(self._deadline_seconds, left)

    def _logout(self, request: Request, identity: Identity | None) -> Revocation | None:
        """Logout: the caller's token revoked until it expires, in the policy round trip, before the
        auth service is told. A key is revoked by an operator, not by logout."""
        if identity is None or identity.is_api_key:
            return None
        token = bearer_token(request.headers)
        return logout_revocation(identity, token, leeway_seconds=self._leeway, now=self._clock())


def demo_account_type_of(body: bytes) -> DemoAccountType:
    """The account type a demo-session creation asks for; refused (400) unless one of the two."""
    try:
        document = bounded_json.loads(body, max_bytes=bounded_json.REQUEST_BODY_BYTES)
    except JsonInputError:
        document = None
    # Anything but a JSON object holding a valid account_type gets the problem naming the two.
    account_type = document.get("account_type") if isinstance(document, dict) else None
    return require_demo_account_type(account_type, "account_type")
