"""The HTTP API's routes as the gateway knows them: one table, held to ``template.yaml`` both ways.

API Gateway picks a route by method and path pattern (``{proxy+}`` is greedy), runs the route's
authorizer with its identity sources and cache, and invokes the route's function. The functions
need the same facts: which routes are public (served without an identity), which one takes a token
in the query, which paths are a login, the logout or a demo session's creation, and which
``/api/v1`` paths the proxy answers itself instead of forwarding them. Each fact is stated here once
and every user reads it from here; ``tests/unit/template/test_routes.py`` holds ``HTTP_ROUTES`` to
the template's routes and authorizers, and every path below to the route that serves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

API_PREFIX: Final = "/api/v1/"

# The functions of template.yaml, by logical id.
PROXY_FUNCTION: Final = "ProxyFunction"
POLICY_FUNCTION: Final = "PolicyFunction"
FANOUT_FUNCTION: Final = "FanoutFunction"
AUTHORIZER_FUNCTION: Final = "AuthorizerFunction"
# Each HTTP function's Timeout in template.yaml: past it Lambda ends the invocation, and API Gateway
# answers 500. ``bakery-gateway serve`` holds each function's work to the same time.
FUNCTION_TIMEOUT_SECONDS: Final[Mapping[str, float]] = {
    PROXY_FUNCTION: 29.0,
    POLICY_FUNCTION: 5.0,
    FANOUT_FUNCTION: 20.0,
    AUTHORIZER_FUNCTION: 5.0,
}


@dataclass(frozen=True, slots=True)
class Authorizer:
    """What guards a route: a Lambda authorizer (by its name in template.yaml), or IAM (SigV4)."""

    name: str
    function: str | None = AUTHORIZER_FUNCTION  # None: IAM, no function of ours
    # A request without one of these gets API Gateway's own 401, the authorizer unasked; the cache
    # is keyed by their values. Header names in lower case.
    identity_headers: tuple[str, ...] = ()
    identity_query_strings: tuple[str, ...] = ()
    ttl_seconds: int = 0  # how long API Gateway caches a verdict; 0: asked on every request

    @property
    def is_iam(self) -> bool:
        return self.function is None


# AuthorizerResultTtlSeconds' default in template.yaml; a deployment may set 0-3600 s (the proxy
# re-checks expiry and revocation on every request, so the cache can outlive neither).
DEFAULT_AUTHORIZER_TTL_SECONDS: Final = 300
TOKEN_AUTHORIZER: Final = Authorizer(
    "TokenAuthorizer", identity_headers=("authorization",), ttl_seconds=DEFAULT_AUTHORIZER_TTL_SECONDS
)
# The alert stream's: a browser's EventSource cannot set headers, so its token may come as ?token=.
# API Gateway wants every identity source present, so this one names none, which it allows only
# without caching.
STREAM_TOKEN_AUTHORIZER: Final = Authorizer("StreamTokenAuthorizer")
IAM: Final = Authorizer("AWS_IAM", function=None)


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """One route of the HTTP API."""

    method: str  # upper case, or ANY
    path: str  # the pattern, as in template.yaml: /api/v1/{proxy+}
    function: str  # the logical id of the function that serves it
    authorizer: Authorizer | None  # None: public
    # The authorizer also takes the token from ?token= (only where a client cannot set headers: a
    # token in a URL can end up in access logs).
    token_in_query: bool = False

    @property
    def route_key(self) -> str:
        """API Gateway's name of the route (``routeKey`` in its events)."""
        return f"{self.method} {self.path}"


SERVICE_PATHS: Final = "/api/v1/{proxy+}"  # every service's, forwarded by the proxy
LOGIN_PATH: Final = "/api/v1/auth/login"
REGISTER_PATH: Final = "/api/v1/auth/register"
REFRESH_PATH: Final = "/api/v1/auth/refresh"
LOGOUT_PATH: Final = "/api/v1/auth/logout"  # revokes the caller's token, in the policies' round trip
DEMO_PATHS: Final = "/api/v1/demo/{proxy+}"  # the demo-session service's, used before any token
ALERT_STREAM_PATH: Final = "/api/v1/alerts/stream"
HEALTH_PATH: Final = "/health"  # the gateway's own health
API_HEALTH_PATH: Final = "/api/v1/health"  # the services' health, as the gateway checks them
DOCS_PATH: Final = "/docs"
OPENAPI_PATH: Final = "/openapi.json"  # the gateway's own document
AGGREGATE_OPENAPI_PATH: Final = "/api/v1/openapi.json"  # the services' documents, merged
ADMIN_PATHS: Final = "/api/v1/admin/{proxy+}"  # tenant policy administration (docs/policies.md)
SUBSCRIPTION_EVENTS_PATH: Final = "/api/v1/internal/subscription-events"  # the tenant service's pushes
INTERNAL_ALERTS_PATH: Final = "/internal/alerts"  # services' alerts, signed with SigV4 (docs/alerts.md)

HTTP_ROUTES: Final[tuple[HttpRoute, ...]] = (
    HttpRoute("ANY", SERVICE_PATHS, PROXY_FUNCTION, TOKEN_AUTHORIZER),
    HttpRoute("POST", LOGOUT_PATH, PROXY_FUNCTION, TOKEN_AUTHORIZER),
    HttpRoute("GET", ALERT_STREAM_PATH, PROXY_FUNCTION, STREAM_TOKEN_AUTHORIZER, token_in_query=True),
    # Public: what a client needs before it has a token.
    *(HttpRoute("POST", path, PROXY_FUNCTION, None) for path in (LOGIN_PATH, REGISTER_PATH, REFRESH_PATH)),
    HttpRoute("ANY", DEMO_PATHS, PROXY_FUNCTION, None),
    # Status pages and developers, before any login (docs/health.md, docs/api-docs.md).
    *(
        HttpRoute("GET", path, PROXY_FUNCTION, None)
        for path in (HEALTH_PATH, API_HEALTH_PATH, DOCS_PATH, OPENAPI_PATH, AGGREGATE_OPENAPI_PATH)
    ),
    HttpRoute("ANY", ADMIN_PATHS, POLICY_FUNCTION, TOKEN_AUTHORIZER),
    HttpRoute("POST", SUBSCRIPTION_EVENTS_PATH, POLICY_FUNCTION, TOKEN_AUTHORIZER),
    HttpRoute("POST", INTERNAL_ALERTS_PATH, FANOUT_FUNCTION, IAM),
)
ROUTE_KEYS: Final = frozenset(route.route_key for route in HTTP_ROUTES)
# The proxy serves these without an identity; every other route of the proxy fails closed without one.
PUBLIC_ROUTE_KEYS: Final = frozenset(route.route_key for route in HTTP_ROUTES if route.authorizer is None)
QUERY_TOKEN_ROUTE_KEYS: Final = frozenset(route.route_key for route in HTTP_ROUTES if route.token_in_query)

# Paths the gateway judges inside the routes above, on their normalised form without the tenant
# scope (``routing.Route.unscoped_path``), so that every spelling of them counts.
# Logins and registrations: throttled per address and per account name (docs/policies.md).
LOGIN_PATHS: Final = frozenset({LOGIN_PATH, REGISTER_PATH})
# POST creates a demo session: its account type is checked, its address limited (docs/demo.md).
DEMO_SESSIONS_PATH: Final = "/api/v1/demo/sessions"
GEOCODE_PATH: Final = "/api/v1/geocode"
# The /api/v1 paths the proxy answers itself (its FastAPI app), with their methods. Any other method
# or path under /api/v1 is a service's; a test holds this table to the app's routes.
GATEWAY_API_ROUTES: Final[Mapping[str, frozenset[str]]] = {
    ALERT_STREAM_PATH: frozenset({"GET"}),
    GEOCODE_PATH: frozenset({"POST"}),
    API_HEALTH_PATH: frozenset({"GET"}),
    AGGREGATE_OPENAPI_PATH: frozenset({"GET"}),
}


def canonical_route_key(route_key: str) -> str:
    """``route_key`` as API Gateway names the route: SAM's emulator (``sam local start-api``) names an
    ``ANY`` route by the request's own method (``POST /api/v1/demo/{proxy+}``)."""
    if route_key in ROUTE_KEYS:
        return route_key
    _, _, path = route_key.partition(" ")
    any_route = f"ANY {path}"
    return any_route if path and any_route in ROUTE_KEYS else route_key
