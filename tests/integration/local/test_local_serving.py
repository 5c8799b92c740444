"""The local runtime's listening socket: bound before anything starts, with a way out when it cannot be."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bakery_local.serving import PortUnavailableError, bind_listener


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another runtime is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as other:
        yield int(other.getsockname()[1])


def test_a_port_in_use_is_refused_naming_the_port_and_how_to_choose_another(taken_port: int) -> None:
    with pytest.raises(PortUnavailableError) as refused:
        bind_listener("127.0.0.1", taken_port)

    message = str(refused.value)
    assert f"port {taken_port} on 127.0.0.1 is already in use" in message
    assert f"--port {taken_port + 1}" in message


def test_a_free_port_is_bound_for_the_server_processes_to_serve_on() -> None:
    listener = bind_listener("127.0.0.1", 0)
    try:
        assert listener.getsockname()[0] == "127.0.0.1"
        assert listener.get_inheritable()  # the reloader hands it to each new server process
    finally:
        listener.close()
