"""CloudWatch EMF: one blob per invocation, in the contract the alarms read (docs/observability.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client import Counter

from bakery_gateway.telemetry import emf
from bakery_gateway.telemetry import observability as obs
from tests.support.telemetry import DOWNSTREAM_MS, RESPONSE_BODY, ROUTE_TEMPLATE, middleware_app

NAMESPACE = "BakeryIA/Gateway"
EMF_UNITS = {"Seconds", "Bytes", "Count"}


def assert_valid_emf(blob: dict[str, Any]) -> None:
    """The fields the EMF specification requires, and CloudWatch's limits per blob."""
    directive = blob["_aws"]
    assert isinstance(directive["Timestamp"], int)
    assert directive["Timestamp"] > 1_600_000_000_000
    for metric_set in directive["CloudWatchMetrics"]:
        assert isinstance(metric_set["Namespace"], str)
        assert metric_set["Namespace"]
        assert all(isinstance(names, list) and len(names) <= 30 for names in metric_set["Dimensions"])
        for names in metric_set["Dimensions"]:
            assert all(isinstance(blob[name], str) for name in names)
        assert 0 < len(metric_set["Metrics"]) <= 100
        for metric in metric_set["Metrics"]:
            assert metric["Unit"] in EMF_UNITS
            values = blob[metric["Name"]]
            values = values if isinstance(values, list) else [values]
            assert 0 < len(values) <= 100
            assert all(isinstance(value, int | float) for value in values)


def blobs(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> emf.EmfExporter:
    """An enabled exporter in place of the process's one, as on Lambda."""
    enabled = emf.EmfExporter(NAMESPACE, enabled=True)
    monkeypatch.setattr(emf, "exporter", enabled)
    return enabled


async def test_a_proxied_request_makes_one_blob_with_the_spec_names_and_units(
    exporter: emf.EmfExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    transport = httpx.ASGITransport(app=middleware_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        await client.post("/api/v1/sales/items/42", content=b"12345")
    exporter.flush()

    (blob,) = blobs(capsys.readouterr().out)
    assert_valid_emf(blob)
    (metric_set,) = blob["_aws"]["CloudWatchMetrics"]
    units = {metric["Name"]: metric["Unit"] for metric in metric_set["Metrics"]}
    assert (metric_set["Namespace"], metric_set["Dimensions"], blob["service"]) == (
        NAMESPACE,
        [["service"]],
        obs.SERVICE_NAME,
    )
    assert units == {
        "gateway_requests_total": "Count",
        "gateway_request_duration_seconds": "Seconds",
        "gateway_request_size_bytes": "Bytes",
        "gateway_response_size_bytes": "Bytes",
        "gateway_downstream_duration_seconds": "Seconds",
    }
    assert blob["gateway_requests_total"] == [1.0]
    assert blob["gateway_request_size_bytes"] == [5.0]
    assert blob["gateway_response_size_bytes"] == [float(len(RESPONSE_BODY))]
    assert blob["gateway_downstream_duration_seconds"] == [DOWNSTREAM_MS / 1000]
    assert (blob["path"], blob["method"], blob["status_code"]) == (ROUTE_TEMPLATE, "POST", "201")


def test_counters_are_written_as_their_increase_since_the_previous_invocation(
    exporter: emf.EmfExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    obs.AUTH_CACHE_HITS.inc(2)
    exporter.flush()
    obs.AUTH_CACHE_HITS.inc()
    exporter.flush()
    exporter.flush()

    written = [blob.get("gateway_auth_cache_hits_total") for blob in blobs(capsys.readouterr().out)]
    assert written == [[2.0], [1.0]]


def test_a_labelled_counter_is_written_as_the_increase_of_all_its_series(
    exporter: emf.EmfExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    obs.REDIS_ERRORS.labels("policy").inc()
    obs.REDIS_ERRORS.labels("revocation").inc(2)
    exporter.flush()

    (blob,) = blobs(capsys.readouterr().out)
    assert blob["gateway_redis_errors_total"] == [3.0]


def test_an_invocation_that_measured_nothing_writes_no_blob(
    exporter: emf.EmfExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    exporter.flush()

    assert blobs(capsys.readouterr().out) == []


def test_more_values_than_a_blob_may_hold_are_split_over_blobs(
    exporter: emf.EmfExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(150):
        exporter.observe("gateway_request_duration_seconds", 0.01)
    exporter.flush()

    written = blobs(capsys.readouterr().out)
    for blob in written:
        assert_valid_emf(blob)
    assert sum(len(blob["gateway_request_duration_seconds"]) for blob in written) == 150


def test_a_disabled_exporter_records_and_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    disabled = emf.EmfExporter(NAMESPACE, enabled=False)

    disabled.observe("gateway_request_duration_seconds", 0.01)
    disabled.request("GET", "/health", 200, "r")
    disabled.flush()

    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "proxy"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "proxy", "POWERTOOLS_METRICS_DISABLED": "true"}, False),
    ],
)
def test_emf_is_written_on_lambda_only_unless_powertools_switch_says_no(
    environ: dict[str, str], expected: bool
) -> None:
    assert emf.on_lambda(environ) is expected


def test_every_counter_of_the_registry_reaches_cloudwatch() -> None:
    counters = {
        collector._name for collector in obs.registry._collector_to_names if isinstance(collector, Counter)
    }

    assert counters == {counter._name for counter in emf.EMF_COUNTERS} | {"gateway_requests"}


def test_the_fast_counter_total_agrees_with_prometheus_own_collection() -> None:
    obs.WEBSOCKET_DELIVERIES.labels("delivered").inc(3)
    obs.AUTH_CACHE_MISSES.inc()

    for counter in (obs.WEBSOCKET_DELIVERIES, obs.AUTH_CACHE_MISSES):
        collected = sum(
            sample.value
            for family in counter.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        assert emf.counter_total(counter) == collected
