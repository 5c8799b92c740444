"""Prometheus Pushgateway export: each container pushes the whole registry under a group of its own.

Grouping key ``job=bakery-gateway, function=<function name>, instance=<container id>``: a push
replaces only its own group (PUT), so containers never overwrite each other's counts; Prometheus
aggregates with ``sum without (instance) (rate(gateway_requests_total[5m]))``. The container id is
Lambda's log stream name (one per execution environment), or a random id per process elsewhere.

Pushing never delays a response: the invocation only sets an event (a few hundred nanoseconds) when
the last push is older than the interval; a daemon thread does the HTTP call. Lambda freezes the
container once the handler returns, so that thread runs until the freeze and finishes at the next
thaw (its request has a timeout and is simply retried next time). What a container counted after its
last push is lost when Lambda reclaims it without another invocation (no shutdown signal reaches a
function without an extension): the Pushgateway view lags by up to one interval, EMF is complete.

Groups outlive their containers (the Pushgateway has no TTL): ``delete_stale_groups`` (also
``python -m bakery_gateway.telemetry.pushgateway --url URL --older-than 3600``, e.g. on a schedule) deletes
the groups of this job whose last push is older than a limit. See docs/observability.md.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, delete_from_gateway, push_to_gateway

from bakery_gateway import constants as names
from bakery_gateway.telemetry.observability import logger, registry

if TYPE_CHECKING:
    from bakery_gateway.settings import ObservabilitySettings

JOB: Final = "bakery-gateway"
PUSH_TIMEOUT_SECONDS: Final = 2.0
LOCAL_FUNCTION: Final = "local"


def grouping_key(environ: Mapping[str, str]) -> dict[str, str]:
    """``function`` and ``instance`` of this container (``job`` is the push's own argument)."""
    return {
        "function": environ.get(names.LAMBDA_FUNCTION_NAME_VARIABLE) or LOCAL_FUNCTION,
        "instance": environ.get(names.LAMBDA_LOG_STREAM_VARIABLE) or uuid.uuid4().hex,
    }


class PushgatewayExporter:
    def __init__(
        self,
        url: str,
        *,
        interval_seconds: float,
        grouping_key: Mapping[str, str],
        registry: CollectorRegistry = registry,
        job: str = JOB,
        timeout_seconds: float = PUSH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.job = job
        self.grouping_key = dict(grouping_key)
        self.interval_seconds = interval_seconds
        self._registry = registry
        self._timeout = timeout_seconds
        self._clock = clock
        self._due_at = -math.inf  # the first invocation pushes: the container appears at once
        self._wanted = threading.Event()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.pushes = 0
        self.failures = 0

    def after_invocation(self) -> None:
        """Asks the worker for a push when the interval has passed; returns at once either way."""
        if self._clock() < self._due_at:  # the usual case, without the lock
            return
        with self._lock:  # the local runtime's worker threads may all get here at once
            now = self._clock()
            if now < self._due_at:
                return
            self._due_at = now + self.interval_seconds
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="pushgateway", daemon=True)
                self._worker.start()
        self._wanted.set()

    def push_now(self) -> bool:
        """One push, on the caller's thread; False (logged) when the Pushgateway did not take it."""
        try:
            self._push()
        except Exception as error:  # any failure: metrics must never break the functions
            self.failures += 1
            logger.warning(
                "pushgateway push failed", extra={"error": type(error).__name__, "reason": str(error)}
            )
            return False
        self.pushes += 1
        return True

    def final_push(self) -> None:
        """At interpreter exit: one last push, silent (the log's stream may be closed by then)."""
        with contextlib.suppress(Exception):
            self._push()

    def _push(self) -> None:
        push_to_gateway(
            self.url,
            job=self.job,
            registry=self._registry,
            grouping_key=self.grouping_key,
            timeout=self._timeout,
        )

    def _work(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self.push_now()


_exporter: PushgatewayExporter | None = None
_exporter_lock = threading.Lock()


def configured_exporter(
    config: ObservabilitySettings, environ: Mapping[str, str]
) -> PushgatewayExporter | None:
    """The process's exporter when ``PUSHGATEWAY_URL`` is set, else None."""
    if not config.pushgateway_url:
        return None
    return process_exporter(config.pushgateway_url, config.pushgateway_interval_seconds, environ)


def process_exporter(url: str, interval_seconds: float, environ: Mapping[str, str]) -> PushgatewayExporter:
    """The process's one exporter (the local runtime runs every function in one process, on one
    registry: one group for all of them there, or counts would be pushed twice). A last push at exit."""
    global _exporter
    with _exporter_lock:
        if _exporter is None or _exporter.url != url:
            _exporter = PushgatewayExporter(
                url, interval_seconds=interval_seconds, grouping_key=grouping_key(environ)
            )
            atexit.register(_exporter.final_push)
        return _exporter


def stale_groups(
    url: str, *, older_than_seconds: float, job: str = JOB, now: float | None = None
) -> list[dict[str, str]]:
    """The grouping keys of ``job`` whose last successful push is older than the limit."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL, checked above
        url.rstrip("/") + "/api/v1/metrics", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_SECONDS) as answer:  # noqa: S310
        document = json.load(answer)
    limit = (time.time() if now is None else now) - older_than_seconds
    stale = []
    for group in document.get("data", []):
        labels: dict[str, str] = group.get("labels", {})
        if labels.get("job") != job:
            continue
        series = group.get("push_time_seconds", {}).get("metrics", [])
        pushed_at = float(series[0]["value"]) if series else 0.0
        if pushed_at < limit:
            stale.append(labels)
    return stale


def delete_stale_groups(
    url: str, *, older_than_seconds: float, job: str = JOB, now: float | None = None
) -> list[dict[str, str]]:
    """Deletes the stale groups of ``job`` (see ``stale_groups``); returns their labels."""
    deleted = []
    for labels in stale_groups(url, older_than_seconds=older_than_seconds, job=job, now=now):
        key = {name: value for name, value in labels.items() if name != "job"}
        delete_from_gateway(url, job=job, grouping_key=key, timeout=PUSH_TIMEOUT_SECONDS)
        deleted.append(labels)
    return deleted


def main(argv: list[str] | None = None) -> int:
    import argparse  # the clean-up command only: not on every cold start

    parser = argparse.ArgumentParser(
        description="Delete the gateway's Pushgateway groups of gone containers."
    )
    parser.add_argument("--url", required=True, help="the Pushgateway, e.g. http://pushgateway:9091")
    parser.add_argument(
        "--older-than", type=float, default=3600.0, help="seconds since the group's last push"
    )
    parser.add_argument("--job", default=JOB)
    arguments = parser.parse_args(argv)
    for labels in delete_stale_groups(
        arguments.url, older_than_seconds=arguments.older_than, job=arguments.job
    ):
        print("deleted", json.dumps(labels, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
