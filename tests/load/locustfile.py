"""The gateway's load test (the spec's ``locustfile.py``): a realistic mix against a running gateway.

Users, by weight: shoppers who log in now and then and mostly read, sometimes write; SSE subscribers
who hold the alert stream open a few seconds at a time; and one abuser who sends requests as fast as
it can and must be rate limited. Every request states the statuses it expects: those count as
success, anything else as a failure, so locust's exit code is 1 on any unexpected status. At the
end a summary per user kind and status is printed, and the run fails if the abuser got no 429.

Tokens come from ``LOAD_TOKENS_FILE`` (JSON: ``{"users": [...], "abuser": "..."}``), written by
``tests/load/run_load.py`` (``make load``), which starts ``bakery-gateway local`` and runs locust
headless. Runs in its own virtualenv (``.venv-locust``): locust brings gevent and pins of its own.
"""

# locust has no type hints: its decorators are untyped to mypy.
# mypy: disable-error-code="untyped-decorator"
from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections import Counter
from collections.abc import Collection
from typing import Any

from locust import HttpUser, between, events, task  # type: ignore[import-not-found]

TOKENS_FILE_VARIABLE = "LOAD_TOKENS_FILE"
SSE_HOLD_SECONDS = float(os.environ.get("LOAD_SSE_HOLD_SECONDS", "5"))
ITEMS_PATH = "/api/v1/sales/items"
LOGIN_PATH = "/api/v1/auth/login"
STREAM_PATH = "/api/v1/alerts/stream"
TOO_MANY_REQUESTS = 429

statuses: Counter[tuple[str, int]] = Counter()


def _tokens() -> dict[str, Any]:
    with open(os.environ[TOKENS_FILE_VARIABLE]) as tokens:
        loaded: dict[str, Any] = json.load(tokens)
    return loaded


TOKENS: dict[str, Any] = _tokens() if os.environ.get(TOKENS_FILE_VARIABLE) else {"users": [""], "abuser": ""}
USER_TOKENS = itertools.cycle(TOKENS["users"])


class GatewayUser(HttpUser):  # type: ignore[misc]
    abstract = True
    token = ""

    def on_start(self) -> None:
        self.token = next(USER_TOKENS)

    def call(self, method: str, path: str, expected: Collection[int], *, name: str, **kwargs: Any) -> Any:
        """One request; a status in ``expected`` is a success, any other a failure naming it."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        with self.client.request(
            method, path, headers=headers, name=name, catch_response=True, **kwargs
        ) as response:
            statuses[(type(self).__name__, response.status_code)] += 1
            if response.status_code in expected:
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
            return response


class Shopper(GatewayUser):
    """Mostly reads, some writes, a login now and then: a bakery's staff using the app."""

    weight = 8
    wait_time = between(0.5, 2.0)

    @task(10)
    def read(self) -> None:
        self.call("GET", f"{ITEMS_PATH}?page={random.randint(1, 20)}", {200}, name="GET items")

    @task(3)
    def write(self) -> None:
        item = {"name": f"croissant-{random.randint(1, 10_000)}", "quantity": random.randint(1, 50)}
        self.call("POST", ITEMS_PATH, {200, 201}, name="POST items", json=item)

    @task(1)
    def login(self) -> None:
        credentials = {"email": f"staff{random.randint(1, 500)}@bakery.example", "password": "not-a-secret"}
        # Anonymous, as a real login is: it runs the login rate limits, per IP and per login name.
        with_token, self.token = self.token, ""
        try:
            self.call("POST", LOGIN_PATH, {200}, name="POST login", json=credentials)
        finally:
            self.token = with_token


class AlertSubscriber(GatewayUser):
    """Holds the alert stream open for a few seconds at a time (the dashboard's live view)."""

    weight = 2
    wait_time = between(0.5, 1.5)

    @task
    def subscribe(self) -> None:
        started = time.monotonic()
        headers = {"authorization": f"Bearer {self.token}", "accept": "text/event-stream"}
        with self.client.get(
            STREAM_PATH, headers=headers, name="GET alert stream", stream=True, catch_response=True,
            timeout=SSE_HOLD_SECONDS + 30,
        ) as response:  # fmt: skip
            statuses[(type(self).__name__, response.status_code)] += 1
            if response.status_code != 200:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
                return
            for _line in response.iter_lines():
                if time.monotonic() - started >= SSE_HOLD_SECONDS:
                    break
            response.success()
            response.close()


class Abuser(GatewayUser):
    """One client hammering reads with no pause: it must get 429s, and nothing else unexpected."""

    fixed_count = 1
    wait_time = between(0.0, 0.01)

    def on_start(self) -> None:
        self.token = TOKENS["abuser"]

    @task
    def hammer(self) -> None:
        self.call("GET", ITEMS_PATH, {200, TOO_MANY_REQUESTS}, name="GET items (abuser)")


@events.quitting.add_listener
def summarize(environment: Any, **_kwargs: Any) -> None:
    """Statuses by user kind; the run fails when the abuser was never limited."""
    print("\nstatus summary (user kind, status: count)")
    for (kind, status), count in sorted(statuses.items()):
        print(f"  {kind:16} {status}: {count}")
    stats = environment.stats.total
    print(
        f"total: {stats.num_requests} requests, {stats.num_failures} unexpected, "
        f"median {stats.get_response_time_percentile(0.5):.0f} ms, "
        f"p99 {stats.get_response_time_percentile(0.99):.0f} ms, {stats.total_rps:.1f} requests/s"
    )
    if statuses[("Abuser", TOO_MANY_REQUESTS)] == 0:
        print("FAIL: the abuser was never rate limited (no 429)")
        environment.process_exit_code = 1
    elif stats.num_failures:
        print("FAIL: unexpected statuses (see the failures above)")
    else:
        print("OK: every status was expected, and the abuser was rate limited")
