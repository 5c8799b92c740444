"""``bakery-gateway demo``: what it asks the gateway, what it prints, how it fails."""

from __future__ import annotations

import json

import httpx
import pytest

from bakery_local.demo_client import DemoCommandError, create_demo_session, session_lines

GATEWAY = "http://127.0.0.1:8000"
CREATED = {
    "session_id": "abc123",
    "account_type": "enterprise",
    "token": "the.demo.token",
    "parent_tenant_id": "demo-abc123-bakery",
    "child_tenant_ids": ["demo-abc123-outlet-1", "demo-abc123-outlet-2"],
    "tenant_ids": ["demo-abc123-bakery", "demo-abc123-outlet-1", "demo-abc123-outlet-2"],
    "expires_at": 1_900_000_000,
}


def client_answering(status: int, body: object, seen: list[httpx.Request] | None = None) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_the_session_is_asked_of_the_gateways_public_route() -> None:
    seen: list[httpx.Request] = []

    create_demo_session(GATEWAY + "/", "enterprise", 600, client=client_answering(201, CREATED, seen))

    assert seen[0].method == "POST"
    assert str(seen[0].url) == f"{GATEWAY}/api/v1/demo/sessions"
    assert json.loads(seen[0].content) == {"account_type": "enterprise", "ttl_seconds": 600}


def test_the_lifetime_is_left_to_the_service_when_not_given() -> None:
    seen: list[httpx.Request] = []

    create_demo_session(GATEWAY, "professional", client=client_answering(201, CREATED, seen))

    assert json.loads(seen[0].content) == {"account_type": "professional"}


def test_the_token_comes_first_then_the_session_and_its_tenants_labelled() -> None:
    lines = session_lines(CREATED)

    assert lines[:5] == [
        "the.demo.token",
        "session: abc123 (enterprise)",
        "parent: demo-abc123-bakery",
        "outlet: demo-abc123-outlet-1",
        "outlet: demo-abc123-outlet-2",
    ]


def test_a_refusal_is_reported_with_the_problems_detail() -> None:
    problem = {"title": "Unknown demo account type", "detail": "use one of professional, enterprise"}

    with pytest.raises(DemoCommandError, match="400: use one of professional, enterprise"):
        create_demo_session(GATEWAY, "enterprise", client=client_answering(400, problem))


def test_a_gateway_that_is_not_running_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))

    with pytest.raises(DemoCommandError, match=r"no gateway answers at http://127\.0\.0\.1:8000"):
        create_demo_session(GATEWAY, "enterprise", client=client)
