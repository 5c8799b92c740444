"""Demo mode end to end: ``bakery-gateway demo`` against the local runtime, over real sockets.

Most tests run a runtime with no configuration at all (embedded Redis, development keys, the sample
services and the sample demo-session service). The expired-session tests use the configured
``gateway`` fixture, whose Redis is the tests' own, to end a session under a live token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_local.cli import STATE_DIR_VARIABLE
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.runtime import LOCAL_CONFIGURATION, RunningGateway, local_gateway, run_cli
from tests.support.demo_sessions import start_demo_session
from tests.support.stub_service import StubService

OLD_ACCOUNT_TYPES = ("individual_bakery", "professional_bakery", "central_baker", "enterprise_chain")
OUTLETS = ("outlet-1", "outlet-2", "outlet-3")


@dataclass(frozen=True)
class CliSession:
    """What ``bakery-gateway demo`` printed: the token, then labelled lines."""

    token: str
    session_id: str
    account_type: str
    parent: str
    outlets: tuple[str, ...]

    @property
    def tenants(self) -> tuple[str, ...]:
        return (self.parent, *self.outlets)


@pytest.fixture(scope="module")
def state_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-state")


@pytest.fixture(scope="module")
def demo_gateway(state_directory: Path) -> Iterator[RunningGateway]:
    """The runtime as a newcomer starts it: nothing configured. Its default of 10 sessions an hour
    per address holds this module's creations: two sessions, and the four refused attempts."""
    with local_gateway(
        {STATE_DIR_VARIABLE: str(state_directory), "LOG_LEVEL": "WARNING"},
        state_directory / "gateway.log",
        unset=LOCAL_CONFIGURATION,
    ) as gateway:
        yield gateway


def start_demo(gateway: RunningGateway, state_directory: Path, account_type: str) -> CliSession:
    printed = run_cli(state_directory, "demo", "--type", account_type, "--url", gateway.url).stdout
    token, *lines = printed.splitlines()
    labelled = [line.split(": ", 1) for line in lines]
    session_id, shown_type = next(value for label, value in labelled if label == "session").split()
    return CliSession(
        token=token,
        session_id=session_id,
        account_type=shown_type.strip("()"),
        parent=next(value for label, value in labelled if label == "parent"),
        outlets=tuple(value for label, value in labelled if label == "outlet"),
    )


@pytest.fixture(scope="module")
def enterprise(demo_gateway: RunningGateway, state_directory: Path) -> CliSession:
    return start_demo(demo_gateway, state_directory, "enterprise")


@pytest.fixture(scope="module")
def professional(demo_gateway: RunningGateway, state_directory: Path) -> CliSession:
    return start_demo(demo_gateway, state_directory, "professional")


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def echoed_headers(response: httpx.Response) -> dict[str, list[str]]:
    """The headers the sample service received, every value of each."""
    received: dict[str, list[str]] = {}
    for name, value in response.json()["headers"]:
        received.setdefault(name, []).append(value)
    return received


def tenant_of(session: CliSession, which: str) -> str:
    return session.parent if which == "parent" else session.outlets[OUTLETS.index(which)]


# --- the command -------------------------------------------------------------------------------


def test_the_runtime_says_it_serves_demo_sessions(demo_gateway: RunningGateway) -> None:
    assert "Demo sessions: built-in sample service" in demo_gateway.log()


def test_the_cli_prints_an_enterprise_session_with_its_parent_and_three_outlets(
    enterprise: CliSession,
) -> None:
    assert enterprise.token.count(".") == 2
    assert enterprise.account_type == "enterprise"
    assert enterprise.parent == f"demo-{enterprise.session_id}-bakery"
    assert enterprise.outlets == tuple(f"demo-{enterprise.session_id}-{outlet}" for outlet in OUTLETS)


def test_the_cli_names_a_gateway_that_is_not_running(state_directory: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"

    result = run_cli(state_directory, "demo", "--type", "enterprise", "--url", url, check=False)

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"no gateway answers at {url}" in result.stderr


# --- what an enterprise demo token reaches -------------------------------------------------------


@pytest.mark.parametrize("form", ["path", "header"])
@pytest.mark.parametrize("which", ["parent", *OUTLETS])
def test_each_tenant_form_reaches_each_tenant_of_the_session(
    demo_gateway: RunningGateway, enterprise: CliSession, which: str, form: str
) -> None:
    tenant = tenant_of(enterprise, which)
    if form == "path":
        url, headers = f"/api/v1/tenants/{tenant}/sales/items", bearer(enterprise.token)
    else:
        url, headers = "/api/v1/sales/items", bearer(enterprise.token, **{"X-Tenant-ID": tenant})

    response = httpx.get(demo_gateway.url + url, headers=headers)

    assert response.status_code == 200
    assert response.json()["service"] == "sales"
    assert echoed_headers(response)["x-tenant-id"] == [tenant]


def test_without_a_tenant_named_the_tokens_active_tenant_is_the_parent(
    demo_gateway: RunningGateway, enterprise: CliSession
) -> None:
    response = httpx.get(f"{demo_gateway.url}/api/v1/sales/items", headers=bearer(enterprise.token))

    assert response.status_code == 200
    assert echoed_headers(response)["x-tenant-id"] == [enterprise.parent]


@pytest.mark.parametrize("which", ["parent", *OUTLETS])
def test_the_demo_headers_arrive_at_the_service(
    demo_gateway: RunningGateway, enterprise: CliSession, which: str
) -> None:
    tenant = tenant_of(enterprise, which)

    response = httpx.get(
        f"{demo_gateway.url}/api/v1/tenants/{tenant}/orders/7", headers=bearer(enterprise.token)
    )

    received = echoed_headers(response)
    assert received["x-demo-session-id"] == [enterprise.session_id]
    assert received["x-demo-account-type"] == ["enterprise"]


def test_client_forged_demo_headers_never_arrive(
    demo_gateway: RunningGateway, enterprise: CliSession
) -> None:
    forged = {"X-Demo-Session-Id": "someone-elses", "X-Demo-Account-Type": "professional"}

    response = httpx.get(f"{demo_gateway.url}/api/v1/sales/items", headers=bearer(enterprise.token, **forged))

    received = echoed_headers(response)
    assert received["x-demo-session-id"] == [enterprise.session_id]
    assert received["x-demo-account-type"] == ["enterprise"]


def test_forged_demo_headers_on_an_ordinary_token_never_arrive(
    demo_gateway: RunningGateway, state_directory: Path
) -> None:
    token = run_cli(state_directory, "token", "--user", "u-1", "--tenant", "bakery-1").stdout.strip()
    forged = {"X-Demo-Session-Id": "forged", "X-Demo-Account-Type": "enterprise"}

    response = httpx.get(f"{demo_gateway.url}/api/v1/sales/items", headers=bearer(token, **forged))

    received = echoed_headers(response)
    assert "x-demo-session-id" not in received
    assert "x-demo-account-type" not in received


# --- what a professional demo token may not reach ------------------------------------------------


@pytest.mark.parametrize("which", ["parent", *OUTLETS])
def test_a_professional_token_is_refused_on_another_sessions_tenants(
    demo_gateway: RunningGateway, professional: CliSession, enterprise: CliSession, which: str
) -> None:
    tenant = tenant_of(enterprise, which)

    response = httpx.get(
        f"{demo_gateway.url}/api/v1/tenants/{tenant}/sales/items", headers=bearer(professional.token)
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_a_professional_token_is_refused_on_an_ordinary_tenant(
    demo_gateway: RunningGateway, professional: CliSession
) -> None:
    response = httpx.get(
        f"{demo_gateway.url}/api/v1/tenants/bakery-1/sales/items", headers=bearer(professional.token)
    )

    assert response.status_code == 403


def test_a_professional_token_is_refused_on_another_tenant_named_by_header(
    demo_gateway: RunningGateway, professional: CliSession, enterprise: CliSession
) -> None:
    response = httpx.get(
        f"{demo_gateway.url}/api/v1/sales/items",
        headers=bearer(professional.token, **{"X-Tenant-ID": enterprise.parent}),
    )

    assert response.status_code == 403


def test_a_professional_token_reaches_its_own_bakery(
    demo_gateway: RunningGateway, professional: CliSession
) -> None:
    response = httpx.get(
        f"{demo_gateway.url}/api/v1/tenants/{professional.parent}/sales/items",
        headers=bearer(professional.token),
    )

    assert response.status_code == 200
    assert echoed_headers(response)["x-demo-account-type"] == ["professional"]


# --- account types ---------------------------------------------------------------------------------


@pytest.mark.parametrize("account_type", OLD_ACCOUNT_TYPES)
def test_an_old_account_type_is_refused_naming_the_two_valid_ones(
    demo_gateway: RunningGateway, account_type: str
) -> None:
    response = httpx.post(f"{demo_gateway.url}/api/v1/demo/sessions", json={"account_type": account_type})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "professional" in response.json()["detail"]
    assert "enterprise" in response.json()["detail"]


def test_the_account_types_are_listed_without_a_token(demo_gateway: RunningGateway) -> None:
    response = httpx.get(f"{demo_gateway.url}/api/v1/demo/accounts")

    assert response.status_code == 200
    assert [item["account_type"] for item in response.json()["account_types"]] == [
        "professional",
        "enterprise",
    ]


# --- guard rails -----------------------------------------------------------------------------------

BLOCKED = [
    ("POST", "/api/v1/tenants/{parent}/billing/checkout"),
    ("DELETE", "/api/v1/tenants/{parent}"),
    ("POST", "/api/v1/tenants/{parent}/invitations"),
    ("POST", "/api/v1/notifications/email"),
]


@pytest.mark.parametrize(("method", "path"), BLOCKED)
def test_a_guarded_operation_is_forbidden_to_a_demo_user(
    demo_gateway: RunningGateway, enterprise: CliSession, method: str, path: str
) -> None:
    response = httpx.request(
        method,
        demo_gateway.url + path.format(parent=enterprise.parent),
        headers=bearer(enterprise.token),
        json={"to": "someone@example.com"},
    )

    assert response.status_code == 403
    assert response.json()["type"].endswith("demo-operation-forbidden")


def test_reading_the_billing_is_allowed_to_a_demo_user(
    demo_gateway: RunningGateway, enterprise: CliSession
) -> None:
    response = httpx.get(
        f"{demo_gateway.url}/api/v1/tenants/{enterprise.parent}/billing", headers=bearer(enterprise.token)
    )

    assert response.status_code == 200
    assert response.json()["path"] == f"/api/v1/tenants/{enterprise.parent}/billing"


# --- a session that ended (the configured runtime: its Redis is the tests') ---------------------


@dataclass(frozen=True)
class RecordedSession:
    token: str
    key: str
    parent: str


@pytest.fixture
def recorded_session(redis_client: redis.Redis, dev_keys: DevKeyPair) -> RecordedSession:
    """A live professional session written as the demo-session service writes it, and its token."""
    session_id = f"e2e-{uuid.uuid4().hex[:10]}"
    parent = f"demo-{session_id}-bakery"
    start_demo_session(redis_client, session_id, "professional", parent)
    token = dev_keys.mint(
        user_id=f"demo-user-{session_id}",
        tenant_id=parent,
        extra_claims={"is_demo": True, "demo_session_id": session_id, "demo_account_type": "professional"},
    )
    return RecordedSession(token, redis_keyspace.demo_session_key(session_id), parent)


def test_a_live_recorded_session_passes(
    gateway: RunningGateway, received: StubService, recorded_session: RecordedSession
) -> None:
    response = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(recorded_session.token))

    assert response.status_code == 200
    assert received.last_request.header("x-tenant-id") == recorded_session.parent


def test_a_deleted_session_refuses_its_token(
    gateway: RunningGateway, redis_client: redis.Redis, recorded_session: RecordedSession
) -> None:
    redis_client.delete(recorded_session.key)

    response = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(recorded_session.token))

    assert response.status_code == 401
    assert response.json()["type"].endswith("demo-session-expired")


def test_a_session_deleted_while_in_use_refuses_its_token_at_once(
    gateway: RunningGateway, redis_client: redis.Redis, recorded_session: RecordedSession
) -> None:
    url = f"{gateway.url}/api/v1/sales/items"
    assert httpx.get(url, headers=bearer(recorded_session.token)).status_code == 200  # authorizer cached

    redis_client.delete(recorded_session.key)
    response = httpx.get(url, headers=bearer(recorded_session.token))

    assert response.status_code == 401
    assert response.json()["type"].endswith("demo-session-expired")
