"""Metrics leave the functions: to a real Prometheus Pushgateway, and as EMF that CloudWatch (moto) takes."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from prometheus_client import CollectorRegistry, Counter

from bakery_gateway.telemetry import emf
from bakery_gateway.telemetry.observability import SERVICE_NAME
from bakery_gateway.telemetry.pushgateway import (
    JOB,
    PushgatewayExporter,
    delete_stale_groups,
    main,
    stale_groups,
)
from tests.integration.conftest import GatewayStarter
from tests.support.pushgateway import Pushgateway, pushgateway_process

NAMESPACE = "BakeryIA/Gateway"
LOG_STREAM = "2026/11/26/[$LATEST]0123456789abcdef"


@pytest.fixture(autouse=True)
def own_emf_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh EMF exporter per test: one a test turns on (as on Lambda) stays with that test."""
    monkeypatch.setattr(emf, "exporter", emf.EmfExporter())


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    with pushgateway_process() as server:
        yield server


def container(url: str, instance: str, requests: float) -> PushgatewayExporter:
    """A container of the proxy function that answered ``requests`` requests, with its own registry."""
    registry = CollectorRegistry()
    counter = Counter("gateway_requests", "requests", ("path",), registry=registry)
    counter.labels("/api/v1/sales/{proxy+}").inc(requests)
    return PushgatewayExporter(
        url,
        interval_seconds=15,
        grouping_key={"function": "bakery-proxy", "instance": instance},
        registry=registry,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- Pushgateway -------------------------------------------------------------------------------------------


def test_two_containers_keep_their_own_series_and_they_sum(pushgateway: Pushgateway) -> None:
    assert container(pushgateway.url, "stream-a", 3).push_now()
    assert container(pushgateway.url, "stream-b", 5).push_now()

    samples = pushgateway.samples("gateway_requests_total")

    assert {(s.labels["instance"], s.value) for s in samples} == {("stream-a", 3.0), ("stream-b", 5.0)}
    assert {s.labels["job"] for s in samples} == {JOB}
    assert sum(s.value for s in samples) == 8.0


def test_a_containers_next_push_replaces_its_own_group_only(pushgateway: Pushgateway) -> None:
    first = container(pushgateway.url, "stream-a", 3)
    first.push_now()
    container(pushgateway.url, "stream-b", 5).push_now()

    container(pushgateway.url, "stream-a", 4).push_now()

    values = {s.labels["instance"]: s.value for s in pushgateway.samples("gateway_requests_total")}
    assert values == {"stream-a": 4.0, "stream-b": 5.0}


def test_a_lambda_log_stream_name_is_a_valid_instance_label(pushgateway: Pushgateway) -> None:
    container(pushgateway.url, LOG_STREAM, 1).push_now()

    (sample,) = pushgateway.samples("gateway_requests_total")

    assert sample.labels["instance"] == LOG_STREAM


def test_groups_not_pushed_for_longer_than_the_limit_are_deleted(pushgateway: Pushgateway) -> None:
    container(pushgateway.url, "stream-a", 1).push_now()
    container(pushgateway.url, "stream-b", 2).push_now()

    assert stale_groups(pushgateway.url, older_than_seconds=3600) == []
    deleted = delete_stale_groups(pushgateway.url, older_than_seconds=3600, now=time.time() + 7200)

    assert {labels["instance"] for labels in deleted} == {"stream-a", "stream-b"}
    assert pushgateway.samples("gateway_requests_total") == []


def test_the_clean_up_command_deletes_the_groups_older_than_its_limit(
    pushgateway: Pushgateway, capsys: pytest.CaptureFixture[str]
) -> None:
    container(pushgateway.url, "stream-a", 1).push_now()
    time.sleep(0.05)

    assert main(["--url", pushgateway.url, "--older-than", "0.01"]) == 0

    assert '"instance": "stream-a"' in capsys.readouterr().out
    assert pushgateway.samples("gateway_requests_total") == []


def test_a_push_never_waits_on_the_invocation(pushgateway: Pushgateway) -> None:
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        exporter = container(f"http://127.0.0.1:{silent.getsockname()[1]}", "stream-a", 1)
        exporter._timeout = 1.0

        started = time.perf_counter()
        exporter.after_invocation()
        elapsed = time.perf_counter() - started

        assert elapsed < 0.05
        assert exporter.pushes == 0


def test_a_failed_push_is_logged_and_counted_never_raised(closed_port: int) -> None:
    exporter = container(f"http://127.0.0.1:{closed_port}", "stream-a", 1)

    assert exporter.push_now() is False
    assert exporter.failures == 1


def test_the_proxy_function_pushes_its_registry_under_its_container_after_answering(
    start_gateway: GatewayStarter, pushgateway: Pushgateway
) -> None:
    gateway = start_gateway(
        AWS_LAMBDA_FUNCTION_NAME="bakery-proxy",
        AWS_LAMBDA_LOG_STREAM_NAME=LOG_STREAM,
        PUSHGATEWAY_URL=pushgateway.url,
        PUSHGATEWAY_INTERVAL_SECONDS="60",
    )

    response = gateway.request("GET", "/health")

    def pushed() -> bool:
        return any(
            s.labels.get("path") == "/health" and s.labels["instance"] == LOG_STREAM
            for s in pushgateway.samples("gateway_requests_total")
        )

    assert response.status in (200, 503)
    wait_for(pushed)
    (sample,) = [
        s for s in pushgateway.samples("gateway_requests_total") if s.labels.get("path") == "/health"
    ]
    assert (sample.labels["function"], sample.labels["job"]) == ("bakery-proxy", JOB)


# --- CloudWatch (moto) ------------------------------------------------------------------------------------


def put_emf(client: Any, blob: dict[str, Any]) -> None:
    """What CloudWatch Logs does with an EMF blob: each metric of each directive, with its dimensions."""
    for directive in blob["_aws"]["CloudWatchMetrics"]:
        for dimension_names in directive["Dimensions"]:
            dimensions = [{"Name": name, "Value": blob[name]} for name in dimension_names]
            data = []
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                values = values if isinstance(values, list) else [values]
                data.append(
                    {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Values": values,
                        "Unit": metric["Unit"],
                    }
                )
            client.put_metric_data(Namespace=directive["Namespace"], MetricData=data)


def test_the_proxys_emf_blob_becomes_the_cloudwatch_metrics_the_alarms_read(
    aws: None, start_gateway: GatewayStarter, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = start_gateway(AWS_LAMBDA_FUNCTION_NAME="bakery-proxy", POWERTOOLS_METRICS_NAMESPACE=NAMESPACE)
    capsys.readouterr()

    gateway.request("GET", "/health")
    gateway.request("GET", "/health")

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    for blob in blobs:
        put_emf(cloudwatch, blob)
    now = datetime.now(UTC)
    statistics = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="gateway_requests_total",
        Dimensions=[{"Name": "service", "Value": SERVICE_NAME}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=60,
        Statistics=["Sum"],
    )
    assert len(blobs) == 2
    assert sum(point["Sum"] for point in statistics["Datapoints"]) == 2.0
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {metric["MetricName"] for metric in listed} >= {
        "gateway_requests_total",
        "gateway_request_duration_seconds",
        "gateway_response_size_bytes",
    }
    assert all(metric["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}] for metric in listed)


def test_many_threads_ending_invocations_at_once_make_one_push_per_interval(pushgateway: Pushgateway) -> None:
    exporter = container(pushgateway.url, "stream-a", 1)
    threads = [threading.Thread(target=exporter.after_invocation) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    wait_for(lambda: exporter.pushes >= 1)
    time.sleep(0.2)
    assert exporter.pushes == 1
