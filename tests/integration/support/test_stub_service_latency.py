"""The tests' stub service answers at once: no response waits for the client's delayed ACK.

http.server writes the headers and the body of a response in two sends. With Nagle's algorithm on,
the second waits until the first is acknowledged, and the client delays that ACK by ~40 ms (Linux's
minimum), so every request through the stub took >= 40 ms, over loopback as over Docker's bridge.
"""

from __future__ import annotations

import http.client
import time

from tests.support.stub_service import StubService

REQUESTS = 10
# Ten stalled answers take >= 400 ms; ten prompt ones a few ms, and well under this on a busy machine.
PROMPT_SECONDS = 0.2


def test_keep_alive_answers_do_not_wait_for_the_delayed_ack(stub_service: StubService) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", stub_service.port, timeout=5)
    try:
        connection.request("GET", "/warm-up")
        connection.getresponse().read()
        started = time.perf_counter()
        for _ in range(REQUESTS):
            connection.request("GET", "/sales-svc/api/v1/sales/items")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    assert elapsed < PROMPT_SECONDS, f"{REQUESTS} keep-alive requests took {elapsed * 1000:.0f} ms"
