"""The names other parts read: the local runtime's /metrics, and the EMF metrics the alarms watch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bakery_gateway.settings import ObservabilitySettings
from bakery_gateway.telemetry import emf
from bakery_gateway.telemetry import observability as obs
from bakery_local.template import load_template

MONITORING = Path(__file__).resolve().parents[3] / "infra" / "monitoring.yaml"


def emf_metric_names() -> set[str]:
    return {f"{counter._name}_total" for counter in emf.EMF_COUNTERS} | {emf.REQUESTS_METRIC, *emf.UNITS}


def alarms_on_gateway_metrics() -> list[dict[str, Any]]:
    if not MONITORING.exists():
        pytest.skip("infra/monitoring.yaml is not there")
    template = load_template(MONITORING)
    return [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"].get("Namespace") == {"Ref": "MetricsNamespace"}
    ]


def test_every_alarm_on_the_functions_metrics_reads_a_name_that_emf_writes() -> None:
    alarms = alarms_on_gateway_metrics()

    assert alarms
    assert {alarm["MetricName"] for alarm in alarms} <= emf_metric_names()


def test_every_alarm_on_the_functions_metrics_uses_the_one_service_dimension() -> None:
    for alarm in alarms_on_gateway_metrics():
        assert [dimension["Name"] for dimension in alarm["Dimensions"]] == ["service"]


def test_the_monitoring_stack_defaults_agree_with_the_exporter() -> None:
    if not MONITORING.exists():
        pytest.skip("infra/monitoring.yaml is not there")
    parameters = load_template(MONITORING)["Parameters"]

    assert parameters["MetricsNamespace"]["Default"] == ObservabilitySettings().metrics_namespace
    assert parameters["MetricsService"]["Default"] == obs.SERVICE_NAME


def test_the_local_runtime_serves_the_registry_as_prometheus_exposition() -> None:
    from bakery_local.gateway import METRICS_PATH, LocalHttpApi
    from bakery_local.invoker import Invoker
    from bakery_local.template import read_http_api
    from tests.unit.template.test_template import TEMPLATE

    api = read_http_api(TEMPLATE, environ={})
    invoker = Invoker(api.functions, workers=1)
    gateway = LocalHttpApi(api, invoker)
    scope = {"type": "http", "method": "GET", "path": METRICS_PATH, "raw_path": b"/metrics", "headers": []}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    obs.REQUESTS.labels("GET", "/api/v1/sales/{proxy+}", "200").inc()
    try:
        asyncio.run(gateway(scope, receive, send))  # type: ignore[arg-type]
    finally:
        invoker.close()

    families = {family.name for family in text_string_to_metric_families(sent[1]["body"].decode())}
    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-type"].startswith(b"text/plain; version=")
    assert {
        "gateway_requests",
        "gateway_request_duration_seconds",
        "gateway_downstream_duration_seconds",
    } <= families
    assert invoker.invocations == {name: 0 for name in invoker.invocations}
