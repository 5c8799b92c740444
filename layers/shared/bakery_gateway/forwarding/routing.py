"""Which service a path goes to: ``/api/v1/{service}/**`` and ``/api/v1/tenants/{tenant_id}/{service}/**``.

The path is judged exactly as the service will read it: anything that could decode to a different
path downstream (dot segments, encoded slashes or backslashes, double encoding, control bytes) is
refused, so no path can reach a service other than the one its normalised form names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from bakery_gateway.api.routes import API_PREFIX
from bakery_gateway.constants import SERVICES
from bakery_gateway.errors import BadRequestError, DownstreamUnavailableError, RouteNotFoundError

TENANT_SERVICE = "tenants"
KNOWN_SERVICES = frozenset(SERVICES)
MAX_PATH_LENGTH = 2048
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request goes."""

    service: str
    base_url: str
    path: str  # as received (still percent-encoded), appended to base_url
    # Decoded, without a trailing slash: the path as the service will read it. Every policy that
    # names paths judges this one, so no spelling of a path can slip past a rule meant for it.
    normalized_path: str
    tenant_id: str | None  # from the tenant-scoped path form, when used
    template: str  # the route template: a metric label and a log field, never the raw path

    @property
    def unscoped_path(self) -> str:
        """``normalized_path`` without the tenant-scoped form's ``/tenants/{tenant_id}``:
        ``/api/v1/tenants/t1/auth/login`` is ``/api/v1/auth/login``, the route the gateway's own
        rules (login, logout, demo sessions) name, whichever form a client chose."""
        if self.tenant_id is None or self.service == TENANT_SERVICE:
            return self.normalized_path
        scoped = f"{API_PREFIX}{TENANT_SERVICE}/{self.tenant_id}"
        return API_PREFIX.rstrip("/") + self.normalized_path[len(scoped) :]


def resolve(raw_path: str, service_urls: Mapping[str, str]) -> Route:
    """The route for ``raw_path``; raises a problem error when there is none."""
    segments = checked_segments(raw_path)
    if len(segments) < 3 or f"/{segments[0]}/{segments[1]}/" != API_PREFIX:
        raise RouteNotFoundError("the gateway routes /api/v1/{service}/...")
    rest = segments[2:]
    service = rest[0]
    tenant_id = None
    template = f"/api/v1/{service}/{{proxy+}}"
    if service == TENANT_SERVICE and len(rest) >= 2:
        tenant_id = rest[1]
        template = "/api/v1/tenants/{tenant_id}/{proxy+}"
        if len(rest) >= 3 and rest[2] in KNOWN_SERVICES and rest[2] != TENANT_SERVICE:
            service = rest[2]
            template = f"/api/v1/tenants/{{tenant_id}}/{service}/{{proxy+}}"
    if service not in KNOWN_SERVICES:
        raise RouteNotFoundError(f"no service is named {service!r}")
    base_url = service_urls.get(service)
    if base_url is None:
        raise DownstreamUnavailableError(f"the {service} service is not configured")
    return Route(
        service=service,
        base_url=base_url,
        path=raw_path,
        normalized_path="/" + "/".join(segments),
        tenant_id=tenant_id,
        template=template,
    )


def gateway_route(raw_path: str, path: str, service: str) -> Route:
    """One of the gateway's own routes at ``path``, as the policies and metrics see it: ``service``
    names its rate-limit and metric subject; no service URL is behind it."""
    return Route(
        service=service, base_url="", path=raw_path, normalized_path=path, tenant_id=None, template=path
    )


def checked_segments(raw_path: str) -> list[str]:
    """The decoded segments of an absolute path, refusing any ambiguous spelling of it."""
    if len(raw_path) > MAX_PATH_LENGTH:
        raise BadRequestError("path too long")
    if not raw_path.startswith("/"):
        raise BadRequestError("path must be absolute")
    try:
        decoded = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise BadRequestError("path is not valid UTF-8") from None
    if unquote(decoded) != decoded:
        raise BadRequestError("path is encoded more than once")
    lowered = raw_path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in decoded:
        raise BadRequestError("path contains an encoded slash or a backslash")
    if _CONTROL_CHARACTERS.search(decoded):
        raise BadRequestError("path contains control characters")
    segments = decoded.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is harmless
    if any(segment in ("", ".", "..") for segment in segments):
        raise BadRequestError("path contains empty or dot segments")
    return segments
