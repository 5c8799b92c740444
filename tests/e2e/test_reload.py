"""``make run`` as a developer meets it: handler code changes are picked up without a restart, the
local state survives them, and neither a reload nor Ctrl-C waits for open alert streams or WebSockets."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bakery_gateway import constants as names
from bakery_local.cli import STATE_DIR_VARIABLE
from tests.e2e.runtime import LOCAL_CONFIGURATION, RunningGateway, local_gateway, run_cli
from tests.support.alerts import ServerEvent, parse_events

FUNCTIONS_DIRECTORY = Path(__file__).resolve().parents[2] / "functions" / "proxy"
RELOAD_SECONDS = 20
# An open stream ends as the reload or Ctrl-C begins; the runtime cancels what is left after 3 s.
STREAM_END_SECONDS = 5
EXIT_SECONDS = 8
RETRY_MILLISECONDS = 700


@pytest.fixture
def reloading_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    """``make run``: no configuration, reload on; a heartbeat every second on alert streams."""
    environ = {
        STATE_DIR_VARIABLE: str(tmp_path),
        "LOG_LEVEL": "WARNING",
        names.SSE_HEARTBEAT_SECONDS: "1",
        names.SSE_RETRY_MILLISECONDS: str(RETRY_MILLISECONDS),
    }
    with local_gateway(environ, tmp_path / "gateway.log", unset=LOCAL_CONFIGURATION, reload=True) as gateway:
        yield gateway


@pytest.fixture
def changed_handler_code() -> Iterator[Path]:
    """A new module beside the proxy handler: a code change the runtime must notice."""
    probe = FUNCTIONS_DIRECTORY / f"_reload_probe_{uuid.uuid4().hex[:8]}.py"
    yield probe
    probe.unlink(missing_ok=True)


def wait_for_new_process(gateway: RunningGateway) -> None:
    """A restarted gateway process starts its invocation counts from zero."""
    deadline = time.monotonic() + RELOAD_SECONDS
    while time.monotonic() < deadline:
        try:
            if gateway.status()["authorizer_invocations"] == 0:
                return
        except httpx.TransportError:
            pass  # between the old process and the new one
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not restart within {RELOAD_SECONDS} s:\n{gateway.log()}")


def test_a_code_change_restarts_the_gateway_and_keeps_redis_keys_and_services(
    reloading_gateway: RunningGateway, changed_handler_code: Path, tmp_path: Path
) -> None:
    # GIVEN a token that worked, and one logged out before the change
    kept = run_cli(tmp_path, "token", "--user", "u-kept", "--tenant", "bakery-1").stdout.strip()
    revoked = run_cli(tmp_path, "token", "--user", "u-gone", "--tenant", "bakery-1").stdout.strip()
    url = f"{reloading_gateway.url}/api/v1/sales/items"
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    assert httpx.post(
        f"{reloading_gateway.url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {revoked}"}
    ).is_success
    assert reloading_gateway.status()["authorizer_invocations"] == 2

    # WHEN handler code changes
    changed_handler_code.write_text('"""A change the local runtime must pick up."""\n')
    wait_for_new_process(reloading_gateway)

    # THEN the new process serves with the same keys, services and Redis (the revocation is still there)
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {revoked}"}).status_code == 401


class OpenStream:
    """An alert stream held open as ``curl -N`` or a browser's EventSource holds it."""

    def __init__(self, gateway: RunningGateway, token: str, last_event_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(base_url=gateway.url, headers=headers, timeout=STREAM_END_SECONDS)
        self._response = self._client.send(
            self._client.build_request("GET", "/api/v1/alerts/stream?tenant_id=bakery-1"), stream=True
        )
        self.status_code = self._response.status_code
        self._chunks = self._response.iter_text()
        self.text = ""

    def read_until(self, seen: str) -> None:
        while seen not in self.text:
            self.text += next(self._chunks)

    def read_to_the_end(self, seconds: float) -> float:
        """Reads until the server ends the response, within ``seconds`` (heartbeats come every
        second meanwhile); how long it took."""
        started = time.monotonic()
        for chunk in self._chunks:
            self.text += chunk
            assert time.monotonic() - started < seconds, f"still open after {seconds} s: {self.text!r}"
        return time.monotonic() - started

    @property
    def events(self) -> list[ServerEvent]:
        return parse_events(self.text)

    def close(self) -> None:
        self._response.close()
        self._client.close()


@pytest.fixture
def token(tmp_path: Path) -> str:
    return run_cli(tmp_path, "token", "--user", "u-1", "--tenant", "bakery-1").stdout.strip()


@pytest.fixture
def open_stream(reloading_gateway: RunningGateway, token: str) -> Iterator[OpenStream]:
    stream = OpenStream(reloading_gateway, token)
    stream.read_until("id:")  # the first answer: the retry hint and the stream's position
    yield stream
    stream.close()


def ends_with_a_reconnect_hint(stream: OpenStream) -> bool:
    last = stream.events[-1]
    return last.retry == str(RETRY_MILLISECONDS) and any("reconnect" in comment for comment in last.comments)


def test_a_code_change_ends_an_open_alert_stream_with_a_reconnect_hint_and_serves_again(
    reloading_gateway: RunningGateway, changed_handler_code: Path, open_stream: OpenStream, token: str
) -> None:
    position = [event.id for event in open_stream.events if event.id][-1]

    # WHEN handler code changes while the stream is open
    changed_handler_code.write_text('"""A change the local runtime must pick up."""\n')

    # THEN the stream ends at once, telling EventSource when to come back, and the new process serves
    open_stream.read_to_the_end(STREAM_END_SECONDS)
    assert ends_with_a_reconnect_hint(open_stream)
    wait_for_new_process(reloading_gateway)
    resumed = OpenStream(reloading_gateway, token, last_event_id=position)
    try:
        assert resumed.status_code == 200
        resumed.read_until("id:")
    finally:
        resumed.close()


def test_ctrl_c_with_an_open_alert_stream_and_websocket_exits_within_seconds(
    reloading_gateway: RunningGateway, open_stream: OpenStream, token: str
) -> None:
    socket_url = reloading_gateway.url.replace("http://", "ws://") + f"/api/v1/training/ws?token={token}"
    with connect(socket_url, open_timeout=RELOAD_SECONDS) as socket:
        socket.send(json.dumps({"action": "subscribe", "topic": "alerts"}))
        socket.recv(timeout=RELOAD_SECONDS)

        # WHEN the developer presses Ctrl-C
        stopped_at = time.monotonic()
        reloading_gateway.interrupt()

        # THEN the runtime is gone within seconds; the stream ended with its reconnect hint, and the
        # WebSocket was closed with 1012 (service restart)
        reloading_gateway.process.wait(timeout=EXIT_SECONDS)
        assert time.monotonic() - stopped_at < EXIT_SECONDS
        open_stream.read_to_the_end(STREAM_END_SECONDS)
        assert ends_with_a_reconnect_hint(open_stream)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=STREAM_END_SECONDS)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
