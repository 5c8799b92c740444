"""Refusals and odd answers: probes are not free, a method's case changes no rule, a service's odd
status is not passed on, and login throttling holds in every spelling of the route and the name."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.demo_sessions import start_demo_session
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.stub_service import StubService

PATH = "/api/v1/sales/orders"
PROBE = "/api/v1/tenants/tenant-b/orders"  # a real tenant the caller's token does not list
LONG_WINDOW = "600"
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def rate_limit_items(response: ProxyResponse) -> list[str]:
    """The scopes and remaining requests of the ``RateLimit`` field: ['"user";r=1', ...]."""
    return [";".join(item.split(";")[:2]) for item in response.headers["ratelimit"].split(", ")]


# --- refusals before the policies spend the caller's budget and carry its fields -------------------
def test_probing_another_tenant_spends_the_users_budget_and_says_so(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="2", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    context = gateway.context_for(token)

    first, second, third = (gateway.request("GET", PROBE, context=context) for _ in range(3))

    assert_problem(first, 403, "tenant-forbidden")
    assert rate_limit_items(first) == ['"user";r=1']
    assert_problem(second, 403, "tenant-forbidden")
    assert rate_limit_items(second) == ['"user";r=0']
    assert_problem(third, 429, "rate-limited")
    assert third.headers["retry-after"]
    assert_problem(gateway.request("GET", PATH, context=context), 429, "rate-limited")
    assert stub_service.requests == []


def test_a_refused_token_spends_the_addresss_budget_and_says_so(
    start_gateway: GatewayStarter, stub_service: StubService
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="2", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)

    responses = [gateway.request("GET", PATH, token=f"guess-{n}", source_ip="198.51.100.5") for n in range(3)]

    assert [response.status for response in responses] == [401, 401, 429]
    assert rate_limit_items(responses[0]) == ['"ip";r=1']
    assert responses[1].headers["www-authenticate"].startswith("Bearer")
    assert (
        gateway.request("GET", PATH, token="guess", source_ip="198.51.100.6").status == 401
    )  # another address
    assert stub_service.requests == []


@pytest.mark.parametrize(
    ("path", "status", "problem_type"),
    [("/api/v1/nope/x", 404, "not-found"), ("/api/v1/sales/../auth", 400, "bad-request")],
)
def test_a_route_refused_before_the_policies_carries_the_rate_limit_fields(
    gateway: LambdaGateway, token: str, path: str, status: int, problem_type: str
) -> None:
    response = gateway.request("GET", path, token=token)

    assert_problem(response, status, problem_type)
    assert rate_limit_items(response) == ['"user";r=299']


def test_a_service_failure_after_the_policies_carries_the_rate_limit_fields(
    start_gateway: GatewayStarter, closed_port: int, token: str
) -> None:
    gateway = start_gateway(**{names.service_url_variable("sales"): f"http://127.0.0.1:{closed_port}"})

    response = gateway.request("GET", PATH, token=token)

    assert_problem(response, 503, "service-unavailable")
    assert [item.split(";")[0] for item in response.headers["ratelimit"].split(", ")] == [
        '"user"',
        '"tenant"',
    ]


# --- odd answers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [999, 600, 101])
def test_a_service_answering_an_invalid_status_is_a_502(
    gateway: LambdaGateway, stub_service: StubService, token: str, status: int
) -> None:
    stub_service.reply(status=status)

    response = gateway.request("GET", PATH, token=token)

    assert_problem(response, 502, "bad-gateway")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/admin/tenants/x/policy/", "/api/v1/admin/tenants/x/nope", "/api/v1/admin/tenants/x/audit/"],
)
def test_any_admin_path_with_a_bad_token_is_a_401_problem(gateway: LambdaGateway, path: str) -> None:
    response = gateway.request("GET", path, token="not-a-token")

    assert_problem(response, 401, "invalid-token")
    assert "location" not in response.headers


# --- a method in lower case is the same method for every rule ---------------------------------------
def test_a_lower_case_post_to_logout_revokes_the_token(gateway: LambdaGateway, token: str) -> None:
    context = gateway.context_for(token)

    assert gateway.request("post", "/api/v1/auth/logout", context=context, token=token).status == 200

    assert_problem(gateway.request("GET", PATH, context=context), 401, "token-revoked")


def test_a_lower_case_method_meets_the_demo_guard_rails(
    gateway: LambdaGateway, stub_service: StubService, redis_client: redis.Redis, dev_keys: DevKeyPair
) -> None:
    start_demo_session(redis_client, "case-demo", "professional", "demo-case-bakery")
    token = dev_keys.mint(
        user_id="demo-user",
        tenant_id="demo-case-bakery",
        extra_claims={"is_demo": True, "demo_session_id": "case-demo", "demo_account_type": "professional"},
    )

    response = gateway.request("post", "/api/v1/notifications/email", token=token, body="{}")

    assert_problem(response, 403, "demo-operation-forbidden")
    assert stub_service.requests == []


def test_a_lower_case_demo_session_creation_meets_the_account_type_check(
    gateway: LambdaGateway, stub_service: StubService
) -> None:
    body = json.dumps({"account_type": "individual_bakery"})

    response = gateway.request("post", "/api/v1/demo/sessions", body=body, headers=JSON)

    assert_problem(response, 400, "invalid-demo-account-type")
    assert stub_service.requests == []


def test_a_lower_case_write_meets_read_only_mode(
    gateway: LambdaGateway, stub_service: StubService, redis_client: redis.Redis, token: str
) -> None:
    redis_client.hset(redis_keyspace.read_only_key("tenant-a"), "reason", "maintenance")

    response = gateway.request("delete", "/api/v1/orders/o-1", token=token)

    assert_problem(response, 403, "tenant-read-only")
    assert stub_service.requests == []


def test_the_service_receives_the_method_every_rule_judged(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    gateway.request("patch", "/api/v1/orders/o-1", token=token, body="{}")

    assert stub_service.last_request.method == "PATCH"


# --- login throttling, whatever the spelling ---------------------------------------------------------
@pytest.fixture
def name_limited(start_gateway: GatewayStarter) -> LambdaGateway:
    """One login attempt per account name (the 2nd is refused), and a generous address budget."""
    return start_gateway(
        LOGIN_RATE_LIMIT_NAME_REQUESTS="1",
        LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS=LONG_WINDOW,
        LOGIN_RATE_LIMIT_IP_REQUESTS="100",
    )


def json_login(gateway: LambdaGateway, name: str, path: str = "/api/v1/auth/login", **request: object) -> int:
    body = json.dumps({"email": name, "password": "guess"})
    return gateway.request("POST", path, body=body, headers=JSON, **request).status  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spelling",
    [
        "ANA@EXAMPLE.COM",
        "\u00a0ana@example.com\t",  # a no-break space and a tab around it
        "\uff41\uff4e\uff41@example.com",  # full-width letters
    ],
)
def test_every_spelling_of_a_name_spends_one_budget(name_limited: LambdaGateway, spelling: str) -> None:
    assert json_login(name_limited, "ana@example.com", source_ip="198.51.100.1") == 200

    assert json_login(name_limited, spelling, source_ip="198.51.100.2") == 429


def test_a_form_encoded_login_spends_the_same_name_budget(name_limited: LambdaGateway) -> None:
    assert json_login(name_limited, "ana@example.com", source_ip="198.51.100.1") == 200
    form = urllib.parse.urlencode({"username": "Ana@Example.com", "password": "guess"})

    response = name_limited.request("POST", "/api/v1/auth/login", body=form, headers=FORM)

    assert_problem(response, 429, "rate-limited")


def test_each_account_a_login_names_spends_its_budget(name_limited: LambdaGateway) -> None:
    assert json_login(name_limited, "ana@example.com", source_ip="198.51.100.1") == 200
    body = json.dumps({"email": "someone-else@example.com", "username": "ana@example.com", "password": "x"})

    response = name_limited.request("POST", "/api/v1/auth/login", body=body, headers=JSON)

    assert_problem(response, 429, "rate-limited")


@pytest.mark.parametrize("path", ["/api/v1/auth/login/", "/api/v1/tenants/tenant-a/auth/login"])
def test_every_spelling_of_the_login_route_spends_the_name_budget(
    name_limited: LambdaGateway, stub_service: StubService, token: str, path: str
) -> None:
    assert json_login(name_limited, "ana@example.com", source_ip="198.51.100.1") == 200
    stub_service.reset()

    # Through the catch-all route, with any valid token.
    assert json_login(name_limited, "ana@example.com", path, token=token) == 429
    assert stub_service.requests == []
