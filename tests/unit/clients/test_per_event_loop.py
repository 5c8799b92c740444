"""One client per running event loop (``clients.factories.PerEventLoop``)."""

from __future__ import annotations

import asyncio
import threading

from bakery_gateway.clients.factories import PerEventLoop


def clients_per_loop() -> PerEventLoop[object]:
    return PerEventLoop(object)


async def twice(clients: PerEventLoop[object]) -> tuple[object, object]:
    return clients.get(), clients.get()


def test_the_same_loop_gets_the_same_client_every_time() -> None:
    clients = clients_per_loop()

    first, second = asyncio.run(twice(clients))

    assert first is second


def test_each_loop_gets_a_client_of_its_own() -> None:
    clients = clients_per_loop()

    one, _ = asyncio.run(twice(clients))
    other, _ = asyncio.run(twice(clients))

    assert one is not other


def test_loops_taking_turns_each_keep_their_client() -> None:
    clients = clients_per_loop()
    first_loop, second_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        a1, _ = first_loop.run_until_complete(twice(clients))
        b1, _ = second_loop.run_until_complete(twice(clients))
        a2, _ = first_loop.run_until_complete(twice(clients))
    finally:
        first_loop.close()
        second_loop.close()

    assert a1 is a2
    assert a1 is not b1


def test_threads_with_loops_of_their_own_get_clients_of_their_own() -> None:
    clients = clients_per_loop()
    got: dict[str, object] = {}

    def run(name: str) -> None:
        got[name] = asyncio.run(twice(clients))[0]

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert got["a"] is not got["b"]
