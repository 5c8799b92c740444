"""``bakery-gateway serve``'s own settings: what a client may hold of one worker process, and the
CORS configuration API Gateway applies on AWS (docs/standalone.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bakery_gateway import constants as names
from bakery_gateway.settings.declarations import Number, Whole, boolean, csv, read_settings, setting

# The command line's defaults (``bakery-gateway serve --threads``, ``--graceful-timeout``): here, where
# reading them imports nothing of the server itself.
DEFAULT_THREADS = 32
DEFAULT_GRACEFUL_SECONDS = 8  # inside `docker stop`'s default 10 s before SIGKILL


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Not part of ``Settings``: no Lambda function reads them (API Gateway holds the clients there)."""

    # From a connection's accept, or a request's first byte, until its head (request line and
    # headers) is complete; then until its body is complete.
    header_timeout_seconds: float = setting(
        names.SERVE_HEADER_TIMEOUT_SECONDS, default=10.0, parse=Number(minimum=0.1, maximum=300.0)
    )
    body_timeout_seconds: float = setting(
        names.SERVE_BODY_TIMEOUT_SECONDS, default=60.0, parse=Number(minimum=0.1, maximum=3600.0)
    )
    # The request line and headers together.
    max_header_bytes: int = setting(
        names.SERVE_MAX_HEADER_BYTES, default=16 * 1024, parse=Whole(minimum=1024, maximum=1024 * 1024)
    )
    # Open client connections, idle keep-alive ones included.
    max_connections: int = setting(
        names.SERVE_MAX_CONNECTIONS, default=1000, parse=Whole(minimum=1, maximum=1_000_000)
    )

    # API Gateway's CORS configuration on AWS (the template's CorsOrigins and CorsAllowCredentials,
    # api/cors.py), which serve applies itself: no origins, no CORS.
    cors_origins: tuple[str, ...] = setting(names.CORS_ORIGINS, default=(), parse=csv)
    cors_allow_credentials: bool = setting(names.CORS_ALLOW_CREDENTIALS, default=True, parse=boolean)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        return read_settings(cls, os.environ if environ is None else environ)
