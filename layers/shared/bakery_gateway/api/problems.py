"""RFC 9457 problem details: the one place where errors become responses."""

from __future__ import annotations

import json
from typing import Any

from bakery_gateway.constants import PROBLEM_CONTENT_TYPE, REQUEST_ID_HEADER
from bakery_gateway.errors import GatewayError

PROBLEM_TYPE_BASE = "https://docs.bakery-ia.com/problems/"


def problem_body(error: GatewayError, request_id: str) -> dict[str, Any]:
    """The problem document for ``error``; extension members never override the standard ones."""
    body: dict[str, Any] = dict(error.extensions)
    body.update(
        type=PROBLEM_TYPE_BASE + error.problem_type,
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=request_id,
    )
    return body


def problem_headers(error: GatewayError, request_id: str) -> dict[str, str]:
    headers = {"content-type": PROBLEM_CONTENT_TYPE, REQUEST_ID_HEADER: request_id}
    headers.update({name.lower(): value for name, value in error.headers.items()})
    return headers


def problem_json(error: GatewayError, request_id: str) -> bytes:
    return json.dumps(problem_body(error, request_id), separators=(",", ":")).encode()
