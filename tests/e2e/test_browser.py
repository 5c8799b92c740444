"""A real browser (Debian's Chromium, driven by playwright) against the local runtime: one page holds
an ``EventSource`` on the alert stream and a ``WebSocket``, and both receive an alert published after
they opened. EventSource cannot set headers: its token travels as ``?token=`` (the stream route's
authorizer accepts it there, and only there).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bakery_gateway import constants as names
from bakery_local.alert_client import new_alert, publish
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import mark_paying
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway
from tests.support.redis_server import RedisEndpoint, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MILLISECONDS = 10_000

PAGE_SCRIPT = """
window.received = {sse: [], ws: [], sseStatus: null, subscribed: false, errors: []};
const settings = JSON.parse(document.getElementById("settings").textContent);

function readStream() {
  const source = new EventSource(settings.streamUrl);
  source.onopen = () => { window.received.sseStatus = 200; };
  source.addEventListener("alert", (event) => window.received.sse.push(JSON.parse(event.data)));
  source.onerror = () => window.received.errors.push("event source error");
}

const socket = new WebSocket(settings.socketUrl);
socket.onopen = () => socket.send(JSON.stringify({action: "subscribe", topic: "alerts"}));
socket.onmessage = (message) => {
  const document = JSON.parse(message.data);
  if (document.type === "ok") window.received.subscribed = true;
  if (document.type === "alert") window.received.ws.push(document.alert);
};
socket.onerror = () => window.received.errors.push("websocket error");
readStream();
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: `make ensure-chromium` installs it"
    ),
]


class PageServer:
    """Serves one HTML page from 127.0.0.1: Chromium lets a page reach the loopback gateway only when
    the page itself comes from a loopback address (a page fulfilled by ``page.route`` is refused:
    "Permission was denied for this request to access the `loopback` address space")."""

    def __init__(self) -> None:
        self.html = b""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(server.html)))
                self.end_headers()
                self.wfile.write(server.html)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture(scope="module")
def browser_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    page_server: PageServer,
) -> Iterator[RunningGateway]:
    """The local runtime allowing the page's origin, with short SSE waits."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.CORS_ORIGINS: page_server.origin,
        names.SSE_WAIT_SECONDS: "1",
        names.SSE_HEARTBEAT_SECONDS: "1",
    }
    for service in names.SERVICES:  # none is called; configured so that no samples start
        environ[names.service_url_variable(service)] = f"http://127.0.0.1:{free_port()}"
    with local_gateway(environ, tmp_path_factory.mktemp("browser") / "gateway.log") as running:
        yield running


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def open_page(page: Page, server: PageServer, gateway: RunningGateway, tenant: str, token: str) -> None:
    settings = {
        "token": token,
        "streamUrl": f"{gateway.url}/api/v1/alerts/stream?tenant_id={tenant}&token={token}",
        "socketUrl": gateway.url.replace("http://", "ws://") + f"/api/v1/training/ws?token={token}",
    }
    server.html = (
        f'<!doctype html><script type="application/json" id="settings">{json.dumps(settings)}</script>'
        f"<script>{PAGE_SCRIPT}</script>"
    ).encode()
    page.goto(f"{server.origin}/")


def wait_until(page: Page, expression: str) -> None:
    """Until ``expression`` holds in the page; on timeout, fails with what the page received."""
    try:
        page.wait_for_function(expression, timeout=WAIT_MILLISECONDS)
    except PlaywrightTimeoutError:
        pytest.fail(f"not true in time: {expression}; the page has {page.evaluate('window.received')}")


def test_a_page_receives_an_alert_on_its_stream_and_its_websocket(
    browser_gateway: RunningGateway,
    page: Page,
    page_server: PageServer,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
) -> None:
    tenant = f"browser-{uuid.uuid4().hex[:8]}"
    client = redis_server.client()
    mark_paying(client, tenant)
    client.close()
    open_page(
        page,
        page_server,
        browser_gateway,
        tenant,
        dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant]),
    )
    wait_until(page, "window.received.subscribed && window.received.sseStatus === 200")

    alert = new_alert(tenant, "critical", "Oven 1 overheats")
    publish(browser_gateway.url, alert)
    wait_until(page, "window.received.sse.length && window.received.ws.length")

    received = page.evaluate("window.received")
    assert [item["alert_id"] for item in received["sse"]] == [alert["alert_id"]]
    assert [item["alert_id"] for item in received["ws"]] == [alert["alert_id"]]
    assert received["errors"] == []
