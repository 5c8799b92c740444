"""schemathesis against the gateway's own OpenAPI document (``GET /openapi.json``), on the local
runtime: whatever it generates, the gateway answers without a server error of its own.

502/503/504 are documented answers about a service; any other 5xx is a defect. The run is bounded
(``MAX_EXAMPLES`` per operation) to stay fast. schemathesis' pytest plugin cannot load a schema
from a fixture under pytest 9 (it sets ``Function._nodeid``, which pytest 9 no longer has), so each
operation's hypothesis strategy is driven here directly.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.e2e.runtime import RunningGateway
from tests.support.stub_service import StubService

MAX_EXAMPLES = 25
DOWNSTREAM_STATUSES = (502, 503, 504)
# Locally the alert stream stays open (server-sent events) and a whole-body read never ends; its
# answers are tested by tests/e2e/test_alert_stream.py and its tenant checks in test_tenancy.py.
STREAM_PATH = "/api/v1/alerts/stream"
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def test_no_generated_request_gets_a_server_error(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{runtime.url}/openapi.json")
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), "every operation of the document loads"
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    operations = [operation for operation in operations if operation.path != STREAM_PATH]
    assert len(operations) >= 10, "the document lists the gateway's routes"
    called: list[str] = []

    for operation in operations:

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def answers_without_a_server_error(case: Any) -> None:
            response = case.call(
                base_url=runtime.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            called.append(case.method)
            assert response.status_code < 500 or response.status_code in DOWNSTREAM_STATUSES, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            )
            assert response.headers.get("x-request-id"), "every answer carries a request id"

        answers_without_a_server_error()

    assert len(called) > len(operations)  # each operation was tried with several examples
