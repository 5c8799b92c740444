"""The CLI's requests to a running local gateway (``bakery-gateway demo``, ``publish``)."""

from __future__ import annotations

from typing import Any

import httpx

# Within API Gateway's 30 s the gateway answers or gives up itself; a function container that
# `sam local` starts for the request takes seconds before it runs.
TIMEOUT_SECONDS = 30.0


def post_json(
    gateway_url: str,
    path: str,
    body: dict[str, Any],
    *,
    expected_status: int,
    error: type[Exception],
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST ``body`` through the gateway; ``error`` (with a message for the terminal) unless it
    answers ``expected_status``."""
    url = gateway_url.rstrip("/") + path
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, trust_env=False)
    try:
        response = http.post(url, json=body)
    except httpx.TransportError as failure:
        raise error(
            f"no gateway answers at {gateway_url} ({type(failure).__name__}); "
            "start it with `bakery-gateway local` (or `make run`), or pass --url"
        ) from failure
    finally:
        if client is None:
            http.close()
    if response.status_code != expected_status:
        raise error(f"{url} answered {response.status_code}: {_reason(response)}")
    return response


def _reason(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(problem, dict):
        for member in ("detail", "title", "message"):
            if isinstance(problem.get(member), str):
                return str(problem[member])
    return response.reason_phrase
