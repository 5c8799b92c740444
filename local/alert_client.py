"""``bakery-gateway publish``: one alert through the running gateway's ingress, ``POST /internal/alerts``."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

INTERNAL_ALERTS_PATH = "/internal/alerts"
TIMEOUT_SECONDS = 10.0


class PublishCommandError(Exception):
    """The alert was not accepted; the message says why, for the terminal."""


def new_alert(
    tenant_id: str, severity: str, message: str, kind: str | None = None, channels: Sequence[str] = ()
) -> dict[str, Any]:
    """An alert with a fresh id and the current time, as a producer service would send it."""
    alert: dict[str, Any] = {
        "alert_id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "severity": severity,
        "message": message,
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "channels": list(channels),
    }
    if kind:
        alert["type"] = kind
    return alert


def publish(gateway_url: str, alert: dict[str, Any], client: httpx.Client | None = None) -> str:
    """POST ``alert``; the stream id the gateway stored it under."""
    url = gateway_url.rstrip("/") + INTERNAL_ALERTS_PATH
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, trust_env=False)
    try:
        response = http.post(url, json=alert)
    except httpx.TransportError as error:
        raise PublishCommandError(
            f"no gateway answers at {gateway_url} ({type(error).__name__}); "
            "start it with `bakery-gateway local` (or `make run`), or pass --url"
        ) from error
    finally:
        if client is None:
            http.close()
    if response.status_code != httpx.codes.ACCEPTED:
        raise PublishCommandError(f"{url} answered {response.status_code}: {response.text[:500]}")
    stream_id = response.json().get("stream_ids", {}).get(alert["alert_id"])
    if not isinstance(stream_id, str):
        raise PublishCommandError(f"{url} answered 202 without a stream id for {alert['alert_id']}")
    return stream_id
