"""No token, cookie, password or API key ever appears in a log line.

A run of requests carrying all of them — accepted, refused, failing downstream, malformed — goes
through the real handlers while every log record of the process is captured as the log line it
becomes; then each secret is looked for in the captured text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest

from bakery_gateway import constants as names
from bakery_gateway.telemetry.observability import SERVICE_NAME
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway
from tests.support.stub_service import StubService

COOKIE = "session=cookie-secret-5f1e0c"
PASSWORD = "password-secret-P@ss-93b1"
API_KEY = "bk_live_apikey-secret-7d2a94"
REFRESH_SECRET_CLAIM = {"nonce": "refresh-secret-0aa1"}


class LineCapture(logging.Handler):
    """Every record, formatted as the gateway's own handler writes it (JSON, exception included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._formatter = logging.getLogger(SERVICE_NAME).handlers[0].formatter

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self._formatter or logging.Formatter()
        self.lines.append(formatter.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def captured_logs() -> Iterator[LineCapture]:
    capture = LineCapture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture)
    root.setLevel(previous)


def secret_parts(token: str) -> list[str]:
    """The token, and its payload and signature on their own: a log line holding either leaks it."""
    _, payload, signature = token.split(".")
    return [token, payload, signature]


def send_everything(gateway: LambdaGateway, stub: StubService, dev_keys: DevKeyPair) -> list[str]:
    """Requests carrying every kind of secret through every outcome; the secrets that were sent."""
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    expired = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", now=time.time() - 7200, ttl_seconds=60)
    refresh = dev_keys.mint(user_id="user-1", token_type="refresh", extra_claims=REFRESH_SECRET_CLAIM)
    tampered = token[:-6] + "AAAAAA"
    huge = dev_keys.mint(user_id="user-1", extra_claims={"pad": "p" * 9000})
    secrets_sent = [COOKIE, PASSWORD, API_KEY, *secret_parts(token), *secret_parts(refresh)]
    secrets_sent += [*secret_parts(expired), tampered, huge]
    credentials = {"cookie": COOKIE, "x-api-key": API_KEY}
    json_body = {"content-type": "application/json"}

    stub.reply(200, [("Content-Type", "application/json")], b"{}")  # an echo would hold the query's token
    for bearer in (token, expired, tampered, refresh, huge, "not-a-token-" + PASSWORD):
        gateway.request("GET", "/api/v1/sales/orders", token=bearer, headers=credentials)
    gateway.request(
        "GET", "/api/v1/sales/orders", token=token, query=f"access_token={token}&api_key={API_KEY}"
    )
    stub.reply(500, [("Set-Cookie", COOKIE)], b"internal error")
    gateway.request("GET", "/api/v1/inventory/stock", token=token, headers=credentials)
    stub.send_garbage()
    gateway.request("GET", "/api/v1/inventory/stock", token=token, headers=credentials)
    stub.reply(200, [("Content-Type", "application/json")], b"{}")
    gateway.request("GET", "/api/v1/sales/orders", token=token, headers={"cookie": COOKIE + "\r\nx-a: b"})
    gateway.request("GET", "/api/v1/sales/orders", token=token, headers={"x-api-key": API_KEY + "\n"})
    gateway.request(
        "POST",
        "/api/v1/auth/login",
        body=json.dumps({"email": "a@b.example", "password": PASSWORD}),
        headers=json_body,
    )
    gateway.request("POST", "/api/v1/auth/login", body="{not json " + PASSWORD, headers=json_body)
    gateway.request(
        "POST", "/api/v1/auth/refresh", body=json.dumps({"refresh_token": refresh}), headers=json_body
    )
    gateway.request("POST", "/api/v1/auth/logout", token=token, headers=credentials)
    gateway.request("GET", "/api/v1/sales/orders", token=token, headers=credentials)  # revoked now
    gateway.request("GET", "/api/v1/alerts/stream", token=token, query=f"token={token}")
    return secrets_sent


def test_no_secret_appears_in_any_log_line(
    start_gateway: GatewayStarter,
    stub_service: StubService,
    dev_keys: DevKeyPair,
    captured_logs: LineCapture,
) -> None:
    gateway = start_gateway(**{names.SSE_WAIT_SECONDS: "0.1"})  # the alert stream answers at once

    secrets_sent = send_everything(gateway, stub_service, dev_keys)

    assert len(captured_logs.lines) > 10, "the run logged: the scan below saw real lines"
    leaked = [secret[:24] for secret in secrets_sent if secret in captured_logs.text]
    assert leaked == [], f"secrets in the logs: {leaked}"


def test_the_scan_would_see_a_secret_that_was_logged(captured_logs: LineCapture) -> None:
    """The control case: a line holding a secret is caught by the capture the test above scans."""
    logging.getLogger(SERVICE_NAME).warning("oops %s", PASSWORD)

    assert PASSWORD in captured_logs.text
