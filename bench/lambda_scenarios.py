"""What the power-tuning bench invokes: one scenario per function that serves requests, and a no-op.

Each scenario names the ``sam build`` folder it runs, the events of its invocations (made before the
measurement: a token is minted per event where the scenario needs fresh ones), the events run once
before them (a connection to send messages on), and how a correct answer looks: a wrong answer stops
the run, so no figure is ever measured on an error path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from harness import RUN_ID, authorizer_event, proxy_event

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair

NOOP: Final = "noop"
# The runtime floor: the same emulator and runtime, a handler that does nothing.
NOOP_SOURCE: Final = """def handler(event, context):
    return {"statusCode": 200}
"""
ADMIN_ROUTE_KEY: Final = "ANY /api/v1/admin/{proxy+}"
SCENARIOS: Final = (
    "proxy",
    "authorizer-hit",
    "authorizer-miss",
    "policy",
    "websocket-message",
    "websocket-connect",
    NOOP,
)


@dataclass(frozen=True)
class Scenario:
    name: str
    function: str  # the template's logical id: its folder in .aws-sam/build
    what: str
    events: Callable[[int], list[bytes]]  # the events of n invocations
    check: Callable[[Any], bool]  # whether a (JSON-decoded) answer is the one expected
    setup: tuple[bytes, ...] = field(default=())  # invoked once, unmeasured, before everything else

    def setup_check(self, answer: Any) -> bool:
        """Whether a setup event's answer is a success."""
        return is_status(200)(answer)


class Scenarios:
    """The scenarios of one run: one key pair, tokens of this run's users and tenants."""

    def __init__(self, keys: DevKeyPair) -> None:
        self._keys = keys
        self._connections = 0

    def make(self, name: str) -> Scenario:
        """The scenario called ``name``, one of ``SCENARIOS``."""
        scenario: Scenario = getattr(self, name.replace("-", "_"))()
        return scenario

    def proxy(self) -> Scenario:
        token = self._mint()
        event = _encode(proxy_event(token, self.context(token)))
        return Scenario(
            "proxy",
            "ProxyFunction",
            "a proxied GET /api/v1/sales/items: every policy in one Redis round trip, the stub service",
            lambda count: [event] * count,
            is_status(200),
        )

    def authorizer_hit(self) -> Scenario:
        event = _encode(authorizer_event(self._mint()))
        return Scenario(
            "authorizer-hit",
            "AuthorizerFunction",
            "the HTTP API's bearer token, its claims cached in Redis by the first invocation",
            lambda count: [event] * count,
            _authorized,
        )

    def authorizer_miss(self) -> Scenario:
        return Scenario(
            "authorizer-miss",
            "AuthorizerFunction",
            "a token never seen before per invocation: RS256 verify, claims stored in Redis",
            lambda count: [_encode(authorizer_event(self._mint())) for _ in range(count)],
            _authorized,
        )

    def policy(self) -> Scenario:
        token = self._mint(roles=("platform_admin",))
        path = f"/api/v1/admin/tenants/bench-tenant-{RUN_ID}/policy"
        event = proxy_event(token, self.context(token), path)
        event["routeKey"] = event["requestContext"]["routeKey"] = ADMIN_ROUTE_KEY
        event["pathParameters"] = {"proxy": path.removeprefix("/api/v1/admin/")}
        encoded = _encode(event)
        return Scenario(
            "policy",
            "PolicyFunction",
            "an operator reads a tenant's policy (GET /api/v1/admin/tenants/{id}/policy)",
            lambda count: [encoded] * count,
            is_status(200),
        )

    def websocket_message(self) -> Scenario:
        connection = self._connection_id()
        authorizer = self._websocket_authorizer()
        message = _websocket_event("$default", "MESSAGE", connection, authorizer)
        message["body"] = json.dumps({"action": "subscribe", "topic": "alerts"})
        encoded = _encode(message)
        return Scenario(
            "websocket-message",
            "WebSocketFunction",
            "a $default message on an open connection: subscribe to the tenant's alerts",
            lambda count: [encoded] * count,
            lambda answer: is_status(200)(answer) and json.loads(answer["body"]).get("type") == "ok",
            setup=(_encode(_websocket_event("$connect", "CONNECT", connection, authorizer)),),
        )

    def websocket_connect(self) -> Scenario:
        authorizer = self._websocket_authorizer()

        def events(count: int) -> list[bytes]:
            return [
                _encode(_websocket_event("$connect", "CONNECT", self._connection_id(), authorizer))
                for _ in range(count)
            ]

        return Scenario(
            "websocket-connect",
            "WebSocketFunction",
            "$connect: a new connection registered with the caller's identity",
            events,
            is_status(200),
        )

    def noop(self) -> Scenario:
        event = _encode(proxy_event(self._mint(), {"authenticated": False}))
        return Scenario(
            NOOP,
            NOOP,
            "a handler that returns at once, given the proxy's event: the emulator and runtime alone",
            lambda count: [event] * count,
            is_status(200),
        )

    def context(self, token: str) -> dict[str, Any]:
        """The authorizer context API Gateway would hand the function for ``token``."""
        from bakery_gateway.authentication.public_keys import load_public_keys
        from bakery_gateway.authentication.token_verifier import TokenVerifier
        from bakery_gateway.settings import Settings

        jwt = Settings.from_environ({names.JWT_PUBLIC_KEYS: self._keys.public_keys_json}).jwt
        return dict(TokenVerifier(load_public_keys(jwt), jwt).verify(token).to_context())

    def _websocket_authorizer(self) -> dict[str, str]:
        """A WebSocket REQUEST authorizer's context: every value a string."""
        context = self.context(self._mint())
        return {
            name: json.dumps(value) if isinstance(value, bool) else str(value)
            for name, value in context.items()
        }

    def _mint(self, roles: tuple[str, ...] = ("owner",)) -> str:
        return str(
            self._keys.mint(user_id=f"bench-user-{RUN_ID}", tenant_id=f"bench-tenant-{RUN_ID}", roles=roles)
        )

    def _connection_id(self) -> str:
        self._connections += 1
        return f"bench{RUN_ID}{self._connections:07d}="


def write_noop_function(folder: Path) -> Path:
    """The no-op function's code folder (its ``app.py``) under ``folder``."""
    code = folder / NOOP
    code.mkdir(parents=True, exist_ok=True)
    (code / "app.py").write_text(NOOP_SOURCE)
    return code


def _websocket_event(
    route_key: str, kind: str, connection_id: str, authorizer: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": route_key,
            "eventType": kind,
            "connectionId": connection_id,
            "authorizer": dict(authorizer),
            "messageDirection": "IN",
            "stage": "live",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "bakery-bench/1.0"},
            "domainName": "ws.bakery.example",
            "apiId": "bench",
        },
        "isBase64Encoded": False,
    }


def _encode(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event).encode()


def is_status(expected: int) -> Callable[[Any], bool]:
    return lambda answer: isinstance(answer, dict) and answer.get("statusCode") == expected


def _authorized(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("context", {}).get("authenticated") is True
