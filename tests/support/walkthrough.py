"""The README's walkthrough, step by step, with the answers it must give wherever the gateway runs.

``make run`` (``tests/e2e/test_walkthrough.py``) and ``sam local start-api`` (``tests/sam_local/``)
walk the same steps against their own gateway and key pair, and each step checks the same answers.
No step depends on what SAM's emulator lacks (a WebSocket API, the authorizer result cache): after a
logout the proxy refuses the token through its revocation check, cached authorizer result or not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from bakery_gateway.api.problems import PROBLEM_TYPE_BASE
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE
from bakery_local.alert_client import new_alert, publish
from bakery_local.dev_tokens import DevKeyPair

SALES = "/api/v1/sales/items"
STREAM = "/api/v1/alerts/stream"
FROM_THE_START = "0-0"  # a stream position before any alert: the stream answers what the tenant has


@dataclass(frozen=True)
class Walker:
    """A running gateway, and the README's ways to get a token it accepts."""

    url: str
    cli_token: Callable[..., str]  # `bakery-gateway token ARGUMENTS`, as the README mints one
    keys: DevKeyPair  # the key pair behind it, for claims the command does not mint
    timeout: float = 30.0  # per request: a function container under `sam local` starts in seconds

    def get(
        self, path: str, token: str | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=_with_token(token, headers), timeout=self.timeout)

    def post(self, path: str, token: str | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", headers=_with_token(token, None), timeout=self.timeout)


@dataclass(frozen=True)
class Answer:
    """What a step saw, in the terms the runtimes are compared by."""

    status: int
    problem_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # the ones that tell this step's story


Step = Callable[[Walker], Answer]


def _with_token(token: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    return {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}


def _problem(response: httpx.Response, status: int, problem_type: str) -> Answer:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem = response.json()
    assert problem["type"] == PROBLEM_TYPE_BASE + problem_type
    assert problem["instance"] == response.headers["x-request-id"]
    telling = {"www-authenticate": response.headers["www-authenticate"]} if status == 401 else {}
    return Answer(status, problem_type, telling)


def a_token_reaches_the_service_with_the_identity_headers_and_repeated_query_keys(walker: Walker) -> Answer:
    token = walker.cli_token("--user", "u-1", "--tenant", "bakery-1", "--roles", "owner")

    response = walker.get(f"{SALES}?day=mon&day=tue", token, {"X-User-ID": "someone-else"})

    assert response.status_code == 200, response.text[:500]
    echo = response.json()
    received: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        received.setdefault(name, []).append(value)
    assert echo["service"] == "sales"
    assert echo["query"] == "day=mon&day=tue"
    assert received["x-user-id"] == ["u-1"], "the client's X-User-ID is dropped"
    assert received["x-tenant-id"] == ["bakery-1"]
    assert received["x-user-roles"] == ["owner"]
    assert received["x-request-id"] == [response.headers["x-request-id"]]
    return Answer(
        200, None, {name: received[name][0] for name in ("x-user-id", "x-tenant-id", "x-user-roles")}
    )


def another_tenants_route_is_a_403_problem(walker: Walker) -> Answer:
    token = walker.cli_token("--user", "u-1", "--tenant", "bakery-1")

    return _problem(walker.get("/api/v1/tenants/bakery-2/orders/o-1", token), 403, "tenant-forbidden")


def an_unknown_service_is_a_404_problem(walker: Walker) -> Answer:
    token = walker.cli_token("--user", "u-1", "--tenant", "bakery-1")

    return _problem(walker.get("/api/v1/nope/x", token), 404, "not-found")


def a_request_without_a_token_is_api_gateways_own_401(walker: Walker) -> Answer:
    response = walker.get(SALES)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    return Answer(401, None, {"body": json.dumps(response.json())})


def a_legacy_demo_account_type_is_a_401_problem(walker: Walker) -> Answer:
    legacy = {"is_demo": True, "demo_session_id": "s-legacy", "demo_account_type": "individual_bakery"}
    token = walker.keys.mint(user_id="demo-user", tenant_id="demo-s-legacy", extra_claims=legacy)

    return _problem(walker.get(SALES, token), 401, "invalid-demo-account-type")


def after_logout_the_token_is_a_401_problem(walker: Walker) -> Answer:
    token = walker.cli_token("--user", "u-2", "--tenant", "bakery-1")
    assert walker.get(SALES, token).status_code == 200

    assert walker.post("/api/v1/auth/logout", token).status_code == 200
    answer = _problem(walker.get(SALES, token), 401, "token-revoked")

    assert 'error_description="token revoked"' in answer.headers["www-authenticate"]
    return answer


def a_published_alert_is_on_the_tenants_stream(walker: Walker) -> Answer:
    tenant = f"bakery-{uuid.uuid4().hex[:8]}"
    token = walker.cli_token("--user", "u-3", "--tenant", tenant)
    with httpx.Client(timeout=walker.timeout) as client:
        stream_id = publish(walker.url, new_alert(tenant, "high", "Low stock: flour"), client=client)

        headers = {**_with_token(token, None), "Last-Event-ID": FROM_THE_START}
        with client.stream("GET", f"{walker.url}{STREAM}?tenant_id={tenant}", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-tenant-id"] == tenant
            event = first_alert(response)

    assert event["id"] == stream_id
    assert json.loads(event["data"])["message"] == "Low stock: flour"
    return Answer(200, None, {"content-type": response.headers["content-type"], "event": event["event"]})


def first_alert(response: httpx.Response) -> dict[str, str]:
    """The fields of the stream's first ``event: alert``, read as they arrive (a local stream never ends)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields.get("event") == "alert":
            return fields
        else:
            fields = {}
    raise AssertionError("the stream ended without an alert")


STEPS: tuple[Step, ...] = (
    a_token_reaches_the_service_with_the_identity_headers_and_repeated_query_keys,
    another_tenants_route_is_a_403_problem,
    an_unknown_service_is_a_404_problem,
    a_request_without_a_token_is_api_gateways_own_401,
    a_legacy_demo_account_type_is_a_401_problem,
    after_logout_the_token_is_a_401_problem,
    a_published_alert_is_on_the_tenants_stream,
)
