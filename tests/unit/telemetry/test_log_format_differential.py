"""The gateway's log formatter (``log_format.GatewayLogFormatter``) against powertools' own.

The same records, formatted by each as powertools' ``Logger`` configures it: the lines must be equal,
byte for byte. No difference is deliberate; records the shorter way does not take (arguments, an
exception, a message JSON can read) are compared too, since they go to powertools.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakery_gateway.telemetry.log_format import GatewayLogFormatter
from bakery_gateway.telemetry.observability import SERVICE_NAME

KEYS = {"service": SERVICE_NAME, "sampling_rate": None}  # what powertools' Logger appends


def formatters() -> tuple[GatewayLogFormatter, LambdaPowertoolsFormatter]:
    ours, theirs = GatewayLogFormatter(), LambdaPowertoolsFormatter()
    ours.append_keys(**KEYS)
    theirs.append_keys(**KEYS)
    return ours, theirs


def record(
    message: Any, extra: dict[str, Any], args: tuple[Any, ...] = (), exc_info: Any = None
) -> logging.LogRecord:
    made = logging.LogRecord("bakery-gateway", logging.INFO, __file__, 42, message, args, exc_info, "record")
    made.__dict__.update(extra)
    return made


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.text(max_size=4), max_size=3),
)
extras = st.dictionaries(
    st.one_of(
        st.sampled_from(
            ["correlation_id", "route", "status", "service", "exception", "stack_trace", "level"]
        ),
        st.text("abcdefghij_", min_size=1, max_size=8),
    ),
    values,
    max_size=8,
)
messages = st.one_of(
    st.sampled_from(["request", "true", "null ", "NaN", "Infinity", "12", '{"a": 1}', "", "unhandled error"]),
    st.text(max_size=12),
)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(message=messages, extra=extras, trace=st.sampled_from([None, "Root=1-abc-def;Parent=1;Sampled=1"]))
def test_a_record_is_formatted_as_powertools_formats_it(
    message: str, extra: dict[str, Any], trace: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if trace is None:
        monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    else:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    ours, theirs = formatters()
    line = record(message, extra)

    assert ours.format(line) == theirs.format(line)


def test_a_record_with_arguments_or_an_exception_is_formatted_as_powertools_formats_it() -> None:
    ours, theirs = formatters()
    try:
        raise ValueError("boom")
    except ValueError:
        failure = sys.exc_info()
    for line in (
        record("took %s ms", {}, args=(3,)),
        record("unhandled error", {"id": "r1"}, exc_info=failure),
    ):
        assert ours.format(line) == theirs.format(line)


def test_keys_appended_later_are_formatted_as_powertools_formats_them() -> None:
    ours, theirs = formatters()
    for formatter in (ours, theirs):
        formatter.append_keys(cold_start=True, location="%(module)s")
    line = record("request", {"route": "/api/v1/sales/{proxy+}"})

    assert ours.format(line) == theirs.format(line)


def test_a_plain_record_is_rendered_without_powertools_format(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = formatters()
    line = record("request", {"correlation_id": "r1", "status": 200})
    expected = theirs.format(line)

    def refuse(self: LambdaPowertoolsFormatter, record: logging.LogRecord) -> str:
        raise AssertionError("powertools' format was called")

    monkeypatch.setattr(LambdaPowertoolsFormatter, "format", refuse)

    assert ours.format(line) == expected
