"""``bakery-gateway demo``: a demo session from the running gateway, asked through its public route."""

from __future__ import annotations

import datetime
from typing import Any

import httpx

from bakery_local.gateway_client import post_json
from bakery_local.sample_demo_sessions import SESSIONS_PATH

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"


class DemoCommandError(Exception):
    """The session could not be created; the message says why, for the terminal."""


def create_demo_session(
    gateway_url: str, account_type: str, ttl_seconds: int | None = None, client: httpx.Client | None = None
) -> dict[str, Any]:
    """POST the creation request to the gateway (so the real path is exercised); the 201 document."""
    body: dict[str, Any] = {"account_type": account_type}
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    url = gateway_url.rstrip("/") + SESSIONS_PATH
    response = post_json(
        gateway_url,
        SESSIONS_PATH,
        body,
        expected_status=httpx.codes.CREATED,
        error=DemoCommandError,
        client=client,
    )
    document = response.json()
    if not isinstance(document, dict) or not isinstance(document.get("token"), str):
        raise DemoCommandError(f"{url} answered 201 without a token")
    return document


def session_lines(document: dict[str, Any]) -> list[str]:
    """The token first (for ``$(... | head -1)``), then the session and its tenants, labelled."""
    expires = datetime.datetime.fromtimestamp(int(document["expires_at"]), tz=datetime.UTC)
    return [
        str(document["token"]),
        f"session: {document['session_id']} ({document['account_type']})",
        f"parent: {document['parent_tenant_id']}",
        *(f"outlet: {outlet}" for outlet in document.get("child_tenant_ids") or ()),
        f"expires: {expires.isoformat(timespec='seconds')}",
    ]
