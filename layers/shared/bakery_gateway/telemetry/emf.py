"""CloudWatch metrics on Lambda: the invocation's measurements as one EMF blob (powertools Metrics).

The contract the alarms and dashboards read (docs/observability.md): namespace
``POWERTOOLS_METRICS_NAMESPACE`` (template parameter ``MetricsNamespace``), one dimension
``service=bakery-gateway``, metric names = the Prometheus names. Counters are the increase since the
previous flush (a delta per invocation; nothing is written for a counter that did not move);
histograms are the values observed in the invocation, with the unit Seconds or Bytes. The request's
method, route template and status travel as metadata: searchable in Logs Insights, no extra series.

Written only on Lambda: elsewhere (tests, the local runtime, which serves ``/metrics``) ``enabled``
is False and every call returns at once. One invocation at a time per process (Lambda's model): the
buffer is not meant for the local runtime's concurrent worker threads.

The blob is the one powertools' ``Metrics.flush_metrics`` writes (``emf_blob``), rendered without its
per-call machinery (validation, logging, the shared metric set: ~3/4 of the blob's CPU); an
invocation that reaches powertools' 100 values per metric or 100 metrics goes through powertools
itself, which splits it into several blobs (tests/unit/telemetry/test_emf_differential.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Final

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from prometheus_client import Counter

from bakery_gateway import constants as names
from bakery_gateway.settings import DEFAULT_METRICS_NAMESPACE
from bakery_gateway.telemetry import observability as obs

# Every counter of the registry but gateway_requests_total, which the middleware counts itself: its
# many series (method x route x status) would make reading it at each flush cost tens of µs.
EMF_COUNTERS: Final[tuple[Counter, ...]] = (
    obs.AUTH_ATTEMPTS,
    obs.AUTH_CACHE_HITS,
    obs.AUTH_CACHE_MISSES,
    obs.REDIS_ERRORS,
    obs.RATE_LIMIT_EXCEEDED,
    obs.POLICY_FALLBACKS,
    obs.ALERTS,
    obs.NOTIFICATION_FAILURES,
    obs.WEBSOCKET_DELIVERIES,
    obs.DOWNSTREAM_RETRIES,
)
REQUESTS_METRIC: Final = "gateway_requests_total"
# powertools writes a blob early at this many metrics, or values of one metric (MAX_METRICS).
POWERTOOLS_MAX_METRICS: Final = 100
Entry = tuple[str, MetricUnit, float]  # a metric's name, unit and one value, in the order added
UNITS: Final[Mapping[str, MetricUnit]] = {
    "gateway_request_duration_seconds": MetricUnit.Seconds,
    "gateway_downstream_duration_seconds": MetricUnit.Seconds,
    "gateway_request_size_bytes": MetricUnit.Bytes,
    "gateway_response_size_bytes": MetricUnit.Bytes,
}


def on_lambda(environ: Mapping[str, str] | None = None) -> bool:
    """True inside a Lambda execution environment, unless powertools' own switch turns EMF off."""
    environ = os.environ if environ is None else environ
    disabled = environ.get(names.METRICS_DISABLED_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")
    return bool(environ.get(names.LAMBDA_FUNCTION_NAME_VARIABLE)) and not disabled


def counter_total(counter: Counter) -> float:
    """The sum of a counter's series. Reads prometheus_client's children directly: ``collect()``
    builds every sample and costs ~10 µs per series (pinned version; a unit test compares both)."""
    children = getattr(counter, "_metrics", None)
    if children is None:  # a counter without labels
        return float(counter._value.get())
    return float(sum(child._value.get() for child in children.values()))


class EmfExporter:
    def __init__(
        self,
        namespace: str = DEFAULT_METRICS_NAMESPACE,
        *,
        enabled: bool = False,
        counters: Sequence[Counter] = EMF_COUNTERS,
    ) -> None:
        self._counters = tuple(counters)
        self._observed: list[tuple[str, float]] = []
        self._requests = 0
        self._metadata: dict[str, str] = {}
        self.configure(namespace, enabled=enabled)

    def configure(self, namespace: str, *, enabled: bool) -> None:
        """Set at cold start from the settings; counting starts from the registry's totals now."""
        self.enabled = enabled
        self._namespace = namespace
        self._metrics = Metrics(namespace=namespace, service=obs.SERVICE_NAME)
        self._flushed_totals = {self._name(c): counter_total(c) for c in self._counters}

    @staticmethod
    def _name(counter: Counter) -> str:
        return f"{counter._name}_total"

    def observe(self, name: str, value: float) -> None:
        """A histogram value of this invocation (name: one of ``UNITS``)."""
        if self.enabled:
            self._observed.append((name, value))

    def request(self, method: str, route: str, status: int, request_id: str) -> None:
        """One answered request: counted, and described in the blob's metadata."""
        if self.enabled:
            self._requests += 1
            self._metadata = {
                "method": method,
                "path": route,
                "status_code": str(status),
                "request_id": request_id,
            }

    def flush(self) -> None:
        """Writes the invocation's blob to stdout (CloudWatch Logs turns it into metrics)."""
        if not self.enabled:
            return
        entries: list[Entry] = []
        if self._requests:
            entries.append((REQUESTS_METRIC, MetricUnit.Count, self._requests))
        for counter in self._counters:
            name = self._name(counter)
            total = counter_total(counter)
            delta = total - self._flushed_totals.get(name, 0.0)
            self._flushed_totals[name] = total
            if delta > 0:
                entries.append((name, MetricUnit.Count, delta))
        entries += [(name, UNITS[name], value) for name, value in self._observed]
        self._observed.clear()
        self._requests = 0
        # Nothing measured (e.g. a WebSocket ping): no blob, and no powertools warning either.
        if entries:
            if _within_one_blob(entries):
                # One write: Lambda's runtime flushes stdout at each write, and print() makes two.
                sys.stdout.write(
                    emf_blob(self._namespace, entries, self._metadata, int(time.time() * 1000)) + "\n"
                )
            else:
                powertools_blobs(self._metrics, entries, self._metadata)
        self._metadata = {}


def emf_blob(namespace: str, entries: Sequence[Entry], metadata: Mapping[str, str], timestamp_ms: int) -> str:
    """The blob powertools' ``flush_metrics`` writes for ``entries`` (the ``service`` dimension, the
    metadata, then each metric's values as a list, in the order first added), in one line."""
    values: dict[str, list[float]] = {}
    definitions: list[dict[str, str]] = []
    for name, unit, value in entries:
        if name not in values:
            values[name] = []
            definitions.append({"Name": name, "Unit": unit.value})
        values[name].append(float(value))
    blob = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [["service"]], "Metrics": definitions}
            ],
        },
        "service": obs.SERVICE_NAME,
        **metadata,
        **values,
    }
    return json.dumps(blob, separators=(",", ":"))


def powertools_blobs(metrics: Metrics, entries: Sequence[Entry], metadata: Mapping[str, str]) -> None:
    """``entries`` written by powertools itself: a blob early whenever 100 values or metrics are
    reached, as powertools does, so that CloudWatch's limits per blob hold."""
    for name, unit, value in entries:
        metrics.add_metric(name, unit, value)
    for key, text in metadata.items():
        metrics.add_metadata(key, text)
    metrics.flush_metrics()


def _within_one_blob(entries: Sequence[Entry]) -> bool:
    """Fewer metrics, and fewer values of each, than make powertools write a blob early."""
    if len(entries) < POWERTOOLS_MAX_METRICS:
        return True
    counts: dict[str, int] = {}
    for name, _, _ in entries:
        counts[name] = counts.get(name, 0) + 1
    return len(counts) < POWERTOOLS_MAX_METRICS and max(counts.values()) < POWERTOOLS_MAX_METRICS


# The process's one exporter: disabled until ``telemetry.instrument`` configures it at cold start.
exporter = EmfExporter()
