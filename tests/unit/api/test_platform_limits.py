"""The quotas' arithmetic (``platform_limits``): sizes as Lambda and API Gateway count them, and the
time the proxy may give a service."""

from __future__ import annotations

import base64
import json

import pytest

from bakery_gateway.api.platform_limits import (
    ANSWER_MARGIN_SECONDS,
    DEFAULT_MAX_REQUEST_BYTES,
    EVENT_ENVELOPE_BYTES,
    LAMBDA_REQUEST_PAYLOAD_BYTES,
    LAMBDA_RESPONSE_PAYLOAD_BYTES,
    MAX_REQUEST_BYTES_CEILING,
    answer_deadline,
    fits_in_invocation,
    fits_in_response,
    invocation_payload_bytes,
    request_line_and_headers_bytes,
)
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.settings import Settings
from bakery_local.template import load_template
from tests.unit.template.test_template import TEMPLATE


def test_the_default_body_limit_is_the_largest_whose_base64_leaves_the_envelope_its_room() -> None:
    # The envelope is everything in the event but the body's encoded text (its member's quotes too).
    def event_bytes(body_bytes: int) -> int:
        return len(base64.b64encode(bytes(body_bytes))) + EVENT_ENVELOPE_BYTES

    assert event_bytes(DEFAULT_MAX_REQUEST_BYTES) <= LAMBDA_REQUEST_PAYLOAD_BYTES
    assert event_bytes(DEFAULT_MAX_REQUEST_BYTES + 1) > LAMBDA_REQUEST_PAYLOAD_BYTES


def test_a_payload_is_counted_as_the_python_runtime_encodes_it_non_ascii_escaped() -> None:
    result = {"statusCode": 200, "body": "é€😀"}

    assert invocation_payload_bytes(result) == len(
        '{"statusCode": 200, "body": "\\u00e9\\u20ac\\ud83d\\ude00"}'
    )


@pytest.mark.parametrize("size", [LAMBDA_RESPONSE_PAYLOAD_BYTES, LAMBDA_RESPONSE_PAYLOAD_BYTES + 1])
def test_a_response_fits_exactly_up_to_lambdas_limit(size: int) -> None:
    envelope = {"statusCode": 200, "body": ""}
    body = "x" * (size - invocation_payload_bytes(envelope))
    response = {"statusCode": 200, "body": body}

    assert invocation_payload_bytes(response) == size
    assert fits_in_response(response) is (size <= LAMBDA_RESPONSE_PAYLOAD_BYTES)


def test_escapes_count_even_when_the_text_alone_would_fit() -> None:
    body = "\u0001" * (LAMBDA_RESPONSE_PAYLOAD_BYTES // 6 + 1)  # each one \\u0001: 6 bytes

    assert not fits_in_invocation({"body": body}, LAMBDA_RESPONSE_PAYLOAD_BYTES)


def test_a_small_document_fits_whatever_its_characters() -> None:
    document = {"headers": {"x-emoji": "😀" * 100}, "cookies": ["a=1"] * 50, "body": '"\\' * 1000}

    assert fits_in_invocation(document, len(json.dumps(document)))


def test_http_apis_header_quota_counts_the_request_line_and_header_values_not_names() -> None:
    headers = [(b"host", b"api.example"), (b"x-a-rather-long-header-name", b"v")]

    size = request_line_and_headers_bytes("GET", b"/api/v1/sales?x=1", "1.1", headers)

    assert size == len("GET /api/v1/sales?x=1 HTTP/1.1") + len("api.example") + len("v")


def test_the_answer_is_due_a_margin_before_the_functions_timeout() -> None:
    context = LambdaContext(timeout_seconds=10, clock=lambda: 0.0)

    assert answer_deadline(context, now=100.0) == 110.0 - ANSWER_MARGIN_SECONDS


def test_the_answer_is_due_a_margin_before_api_gateways_30_s_when_the_function_may_run_longer() -> None:
    context = LambdaContext(timeout_seconds=60, clock=lambda: 0.0)

    assert answer_deadline(context, now=100.0) == 130.0 - ANSWER_MARGIN_SECONDS


def test_without_a_lambda_context_nothing_bounds_the_answer() -> None:
    assert answer_deadline(object(), now=100.0) is None


def test_the_default_downstream_deadline_leaves_the_answer_its_margin_within_30_s() -> None:
    settings = Settings()
    deadline = settings.downstream_connect_timeout_seconds + settings.downstream_read_timeout_seconds

    assert deadline + ANSWER_MARGIN_SECONDS <= 30


def test_the_templates_body_limit_is_the_libraries() -> None:
    parameter = load_template(TEMPLATE)["Parameters"]["MaxRequestBytes"]

    assert (parameter["Default"], parameter["MaxValue"]) == (
        DEFAULT_MAX_REQUEST_BYTES,
        MAX_REQUEST_BYTES_CEILING,
    )
