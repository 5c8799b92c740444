"""Another tenant's id, in every form a request can name a tenant, is refused: 403 and nothing forwarded.

The forms: the path (``/api/v1/tenants/{id}/...``), ``X-Tenant-ID``, ``?tenant_id`` on the alert
stream, and ``tenant_id`` in a WebSocket subscription. A demo user is held to its session's tenants
(docs/demo.md) in each of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from websockets.sync.client import ClientConnection, connect

from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.runtime import RunningGateway
from tests.support.demo_sessions import start_demo_session
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.stub_service import StubService

OTHER_TENANT = "tenant-b"  # a real, paying tenant the caller's token does not list
DEMO_SESSION, DEMO_BAKERY = "attack-demo-session", "demo-attack-bakery"
RECEIVE_SECONDS = 10.0

# (method, path, extra headers): each names OTHER_TENANT in its own way.
ROUTE_FORMS: dict[str, tuple[str, str, dict[str, str]]] = {
    "tenant path, a service under it": ("GET", f"/api/v1/tenants/{OTHER_TENANT}/sales/orders", {}),
    "tenant path, the tenant service": ("GET", f"/api/v1/tenants/{OTHER_TENANT}", {}),
    "tenant path, its members": ("DELETE", f"/api/v1/tenants/{OTHER_TENANT}/members/user-9", {}),
    "x-tenant-id": ("GET", "/api/v1/sales/orders", {"x-tenant-id": OTHER_TENANT}),
    "x-tenant-id on a write": ("POST", "/api/v1/orders/", {"x-tenant-id": OTHER_TENANT}),
    "alert stream query": ("GET", f"/api/v1/alerts/stream?tenant_id={OTHER_TENANT}", {}),
    "alert stream header": ("GET", "/api/v1/alerts/stream", {"x-tenant-id": OTHER_TENANT}),
    "geocode header": ("POST", "/api/v1/geocode", {"x-tenant-id": OTHER_TENANT}),
}


def send(gateway: LambdaGateway, token: str, form: str) -> ProxyResponse:
    method, target, headers = ROUTE_FORMS[form]
    path, _, query = target.partition("?")
    return gateway.request(method, path, token=token, headers=headers, query=query or None)


@pytest.fixture
def demo_token(redis_client: redis.Redis, dev_keys: DevKeyPair) -> str:
    """A professional demo user; its token lists a real tenant, which its session does not own."""
    start_demo_session(redis_client, DEMO_SESSION, "professional", DEMO_BAKERY)
    return dev_keys.mint(
        user_id="demo-user",
        tenant_id=DEMO_BAKERY,
        tenant_ids=[DEMO_BAKERY, OTHER_TENANT],
        extra_claims={"is_demo": True, "demo_session_id": DEMO_SESSION, "demo_account_type": "professional"},
    )


@pytest.mark.parametrize("form", list(ROUTE_FORMS))
def test_another_tenants_id_is_refused_in_every_form(
    gateway: LambdaGateway, stub_service: StubService, token: str, form: str
) -> None:
    response = send(gateway, token, form)

    problem = assert_problem(response, 403, "tenant-forbidden")
    assert problem["tenant_id"] == OTHER_TENANT
    assert stub_service.requests == []


@pytest.mark.parametrize("form", list(ROUTE_FORMS))
def test_a_demo_user_is_refused_a_real_tenant_in_every_form(
    gateway: LambdaGateway, stub_service: StubService, demo_token: str, form: str
) -> None:
    response = send(gateway, demo_token, form)

    assert_problem(response, 403, "tenant-forbidden")
    assert stub_service.requests == []


@pytest.mark.parametrize(
    "spelling", ["TENANT-B", "tenant-b%20", "tenant-a%00", "tenant-a%2Ftenant-b", "tenant-a/../tenant-b"]
)
def test_a_respelled_tenant_id_in_the_path_is_refused(
    gateway: LambdaGateway, stub_service: StubService, token: str, spelling: str
) -> None:
    response = gateway.request("GET", f"/api/v1/tenants/{spelling}/sales/orders", token=token)

    assert response.status in (400, 403), response.raw
    assert stub_service.requests == []


# --- WebSocket subscriptions, over real sockets through the local runtime ----------------------
@pytest.fixture
def socket_of(runtime: RunningGateway) -> Iterator[Any]:
    with ExitStack() as sockets:

        def open_socket(token: str) -> ClientConnection:
            url = runtime.url.replace("http://", "ws://") + f"/ws?token={token}"
            return sockets.enter_context(connect(url, open_timeout=RECEIVE_SECONDS))

        yield open_socket


def subscribe(socket: ClientConnection, tenant_id: str) -> dict[str, Any]:
    socket.send(json.dumps({"action": "subscribe", "topic": "alerts", "tenant_id": tenant_id}))
    answer: dict[str, Any] = json.loads(socket.recv(timeout=RECEIVE_SECONDS))
    return answer


@pytest.mark.usefixtures("received")
def test_a_websocket_subscription_to_another_tenant_is_refused(socket_of: Any, token: str) -> None:
    socket = socket_of(token)

    assert subscribe(socket, "tenant-a")["type"] == "ok"  # the control case
    answer = subscribe(socket, OTHER_TENANT)

    assert answer["type"] == "error"
    assert answer["error"] == "forbidden"


@pytest.mark.usefixtures("received")
def test_a_demo_users_websocket_subscription_to_a_real_tenant_is_refused(
    socket_of: Any, demo_token: str
) -> None:
    answer = subscribe(socket_of(demo_token), OTHER_TENANT)

    assert answer["type"] == "error"
    assert answer["error"] == "forbidden"
