"""The invocation wrapper, tracing, pseudonyms, the Pushgateway schedule and their settings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry import emf, instrument, pushgateway, tracing
from bakery_gateway.telemetry.pseudonymize import plain, pseudonymizer, user_id_for_log
from bakery_local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "bakery-proxy"}


# --- tracing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"POWERTOOLS_TRACE_DISABLED": "false"}, False),  # off Lambda: never
        (LAMBDA, False),  # the template's default (Tracing=Disabled) and a missing variable alike
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
    ],
)
def test_tracing_is_on_only_on_lambda_when_the_template_turns_it_on(
    environ: dict[str, str], expected: bool
) -> None:
    assert tracing.tracing_enabled(environ) is expected


def test_with_tracing_off_the_handler_is_left_as_it_is() -> None:
    def handler(event: dict[str, Any], context: Any) -> str:
        return "answer"

    assert tracing.traced(handler, {}) is handler


def test_with_tracing_on_the_handler_runs_inside_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # the SDK itself stays quiet in a test

    def handler(event: dict[str, Any], context: Any) -> str:
        return "answer"

    wrapped = tracing.traced(handler, {**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"})

    assert wrapped is not handler
    assert wrapped({}, None) == "answer"


def test_loading_the_proxy_handler_imports_no_xray_sdk_while_tracing_is_off() -> None:
    code = "import sys, bakery_functions.proxy.app; print('aws_xray_sdk' in sys.modules)"

    result = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "False"


def import_the_logger(log_level: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter importing the logger's module with ``LOG_LEVEL`` set, printing its level."""
    code = "from bakery_gateway.telemetry.observability import logger; print(logger.log_level)"
    return subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code],
        env={**os.environ, "LOG_LEVEL": log_level},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_logger_takes_its_level_from_log_level_in_any_case() -> None:
    assert import_the_logger("debug").stdout.strip() == str(logging.DEBUG)


def test_a_malformed_log_level_stops_the_loggers_import_naming_the_variable() -> None:
    result = import_the_logger("LOUD")

    assert result.returncode != 0
    assert "ConfigurationError: LOG_LEVEL: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR" in result.stderr


def test_the_template_disables_tracing_in_powertools_exactly_when_lambda_tracing_is_disabled() -> None:
    template = load_template(TEMPLATE)

    variable = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"]

    assert variable == {"Fn::If": ["TracingDisabled", "true", "false"]}
    assert template["Conditions"]["TracingDisabled"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Disabled"]}
    assert template["Globals"]["Function"]["Tracing"] == {"Ref": "Tracing"}


# --- the invocation wrapper -----------------------------------------------------------------------------


@pytest.fixture
def fresh_emf(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new EMF exporter for the test: counts of other tests never reach its blob."""
    monkeypatch.setattr(emf, "exporter", emf.EmfExporter())


def observing(seconds: float, *, fails: bool = False) -> Callable[[dict[str, Any], Any], str]:
    """A handler that observes one request duration, then answers (or fails)."""

    def handler(event: dict[str, Any], context: Any) -> str:
        emf.exporter.observe("gateway_request_duration_seconds", seconds)
        if fails:
            raise RuntimeError("handler failed")
        return "answer"

    return handler


def emf_blob_holds(capsys: pytest.CaptureFixture[str], seconds: float) -> bool:
    return f'"gateway_request_duration_seconds":[{seconds}]' in capsys.readouterr().out


@pytest.mark.usefixtures("fresh_emf")
def test_the_wrapper_flushes_emf_after_every_invocation_on_lambda(capsys: pytest.CaptureFixture[str]) -> None:
    wrapped = instrument.instrument(observing(0.5), Settings(), LAMBDA)

    assert wrapped({}, None) == "answer"
    assert emf_blob_holds(capsys, 0.5)


@pytest.mark.usefixtures("fresh_emf")
def test_the_wrapper_flushes_even_when_the_handler_fails(capsys: pytest.CaptureFixture[str]) -> None:
    wrapped = instrument.instrument(observing(0.25, fails=True), Settings(), LAMBDA)

    with pytest.raises(RuntimeError):
        wrapped({}, None)
    assert emf_blob_holds(capsys, 0.25)


def test_the_wrapper_signals_the_pushgateway_after_each_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    signalled: list[bool] = []

    class Pusher:
        def after_invocation(self) -> None:
            signalled.append(True)

    monkeypatch.setattr(pushgateway, "process_exporter", lambda *args: Pusher())
    settings = Settings.from_environ({"PUSHGATEWAY_URL": "http://pushgateway:9091"})
    wrapped = instrument.instrument(lambda event, context: "answer", settings, {})

    wrapped({}, None)
    wrapped({}, None)

    assert signalled == [True, True]


@pytest.mark.usefixtures("fresh_emf")
def test_off_lambda_the_wrapper_writes_no_emf(capsys: pytest.CaptureFixture[str]) -> None:
    instrument.instrument(observing(0.5), Settings(), {})({}, None)

    assert "_aws" not in capsys.readouterr().out


# --- the Pushgateway schedule (no network: the push itself is replaced) --------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_container_pushes_at_its_first_invocation_then_at_most_once_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    exporter = pushgateway.PushgatewayExporter(
        "http://pushgateway:9091",
        interval_seconds=15,
        grouping_key={"function": "f", "instance": "i"},
        clock=clock,
    )
    asked: list[float] = []
    monkeypatch.setattr(exporter._wanted, "set", lambda: asked.append(clock.now))
    monkeypatch.setattr(exporter, "_work", lambda: None)

    for now in (1000.0, 1001.0, 1014.9, 1015.0, 1020.0, 1031.0):
        clock.now = now
        exporter.after_invocation()

    assert asked == [1000.0, 1015.0, 1031.0]


def test_a_container_is_grouped_by_function_and_log_stream() -> None:
    key = pushgateway.grouping_key(
        {"AWS_LAMBDA_FUNCTION_NAME": "bakery-proxy", "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/26/[$LATEST]ab12"}
    )

    assert key == {"function": "bakery-proxy", "instance": "2026/11/26/[$LATEST]ab12"}


def test_off_lambda_each_process_is_an_instance_of_its_own() -> None:
    first, second = pushgateway.grouping_key({}), pushgateway.grouping_key({})

    assert first["function"] == second["function"] == pushgateway.LOCAL_FUNCTION
    assert first["instance"] != second["instance"]


# --- pseudonyms and settings ---------------------------------------------------------------------------


def test_a_pseudonym_is_stable_for_a_key_and_changes_with_it() -> None:
    first, again, other_key = pseudonymizer("a" * 16), pseudonymizer("a" * 16), pseudonymizer("b" * 16)

    assert first("user-1") == again("user-1") != other_key("user-1")
    assert first("user-1") != first("user-2")
    assert len(first("user-1")) == len("u_") + 16


def test_user_ids_are_logged_as_they_are_unless_pseudonymized() -> None:
    plain_mode = Settings.from_environ({}).observability
    pseudonymized = Settings.from_environ(
        {"USER_ID_LOG_MODE": "pseudonymized", "USER_ID_LOG_KEY": "x" * 32}
    ).observability

    assert user_id_for_log(plain_mode) is plain
    assert user_id_for_log(pseudonymized)("user-1") == pseudonymizer("x" * 32)("user-1")


def test_pseudonymized_logs_without_a_key_fail_at_cold_start_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="USER_ID_LOG_KEY"):
        Settings.from_environ({"USER_ID_LOG_MODE": "pseudonymized"})


def test_the_observability_settings_are_read_from_the_environment() -> None:
    config = Settings.from_environ(
        {
            "POWERTOOLS_METRICS_NAMESPACE": "Bakery/Test",
            "PUSHGATEWAY_URL": "http://pushgateway:9091/",
            "PUSHGATEWAY_INTERVAL_SECONDS": "30",
        }
    ).observability

    assert (config.metrics_namespace, config.pushgateway_url, config.pushgateway_interval_seconds) == (
        "Bakery/Test",
        "http://pushgateway:9091",
        30.0,
    )


@pytest.mark.parametrize(
    ("variable", "value"), [("PUSHGATEWAY_URL", "pushgateway:9091"), ("PUSHGATEWAY_INTERVAL_SECONDS", "0")]
)
def test_a_bad_pushgateway_setting_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ({variable: value})
