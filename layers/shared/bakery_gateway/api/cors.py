"""The HTTP API's CORS configuration, and how API Gateway answers with it.

API Gateway answers a CORS preflight itself (the function never sees it) and adds the CORS headers
to every answer of an allowed origin, dropping the function's own. Which origins are allowed, and
whether with credentials, is a deployment's choice (``CORS_ORIGINS``, ``CORS_ALLOW_CREDENTIALS``, the
template's ``CorsOrigins`` and ``CorsAllowCredentials``); the rest is fixed here, as in the template's
``CorsConfiguration`` (``tests/unit/template/test_cors.py`` holds them together). The local runtime
and ``bakery-gateway serve`` answer with these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

# The template's CorsConfiguration, but for the deployment's origins and credentials.
ALLOW_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOW_HEADERS: Final = ("authorization", "content-type", "x-request-id", "x-tenant-id")
EXPOSE_HEADERS: Final = ("x-request-id", "retry-after", "ratelimit", "ratelimit-policy")
MAX_AGE_SECONDS: Final = 600

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """One HTTP API's CORS configuration: header names in lower case, methods in upper case."""

    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins


def gateway_cors(origins: Sequence[str], *, allow_credentials: bool) -> CorsPolicy | None:
    """The template's CORS configuration for these origins; None (no CORS) without any, as the
    template leaves ``CorsConfiguration`` out when ``CorsOrigins`` is empty."""
    if not origins:
        return None
    return CorsPolicy(
        allow_origins=tuple(origins),
        allow_headers=ALLOW_HEADERS,
        allow_methods=ALLOW_METHODS,
        expose_headers=EXPOSE_HEADERS,
        allow_credentials=allow_credentials,
        max_age=MAX_AGE_SECONDS,
    )


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """An ``OPTIONS`` request with ``Origin`` and ``Access-Control-Request-Method`` (lower-case names)."""
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def response_headers(policy: CorsPolicy, origin: str) -> Headers:
    """The CORS headers of an answer to ``origin``; none when it is not allowed."""
    if not policy.allows(origin):
        return []
    allowed = "*" if "*" in policy.allow_origins and not policy.allow_credentials else origin
    headers = [(b"access-control-allow-origin", allowed.encode()), (b"vary", b"origin")]
    if policy.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if policy.expose_headers:
        headers.append((b"access-control-expose-headers", ",".join(policy.expose_headers).encode()))
    return headers


def preflight_headers(policy: CorsPolicy, origin: str, request_headers: Mapping[str, str]) -> Headers:
    """The headers of API Gateway's ``204`` to a preflight (lower-case ``request_headers``)."""
    if not policy.allows(origin):
        return [(b"content-length", b"0")]
    headers = response_headers(policy, origin)
    method = request_headers["access-control-request-method"].upper()
    if "*" in policy.allow_methods or method in policy.allow_methods:
        headers.append((b"access-control-allow-methods", ",".join(policy.allow_methods).encode()))
    wanted = request_headers.get("access-control-request-headers", "")
    if wanted:
        names = [name.strip().lower() for name in wanted.split(",") if name.strip()]
        allowed = names if "*" in policy.allow_headers else [n for n in names if n in policy.allow_headers]
        if allowed:
            headers.append((b"access-control-allow-headers", ",".join(allowed).encode()))
    if policy.max_age is not None:
        headers.append((b"access-control-max-age", str(policy.max_age).encode()))
    headers.append((b"content-length", b"0"))
    return headers


def without_cors_headers(headers: Headers) -> Headers:
    """A function's answer headers minus its own CORS headers: with CORS configured, API Gateway's win."""
    return [(name, value) for name, value in headers if not name.lower().startswith(b"access-control-")]
