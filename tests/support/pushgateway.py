"""A real Prometheus Pushgateway (Debian's ``prometheus-pushgateway``) on a free port, per test module.

``make test`` installs it (``ensure-pushgateway``). Outside CI a machine without the binary skips the
tests that need it, saying why; in CI (``CI`` set) a missing binary fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bakery_local.runtime_process import stop
from tests.support.redis_server import free_port

PUSHGATEWAY_BINARY = "/usr/bin/prometheus-pushgateway"


@dataclass(frozen=True)
class Pushgateway:
    url: str

    def samples(self, name: str) -> list[Sample]:
        """Every sample named ``name`` the Pushgateway exposes now (its /metrics, as Prometheus scrapes)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=2) as answer:  # noqa: S310 - loopback
            text = answer.read().decode()
        return [
            sample
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        ]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=0.2) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def binary_or_skip() -> str:
    binary = shutil.which("prometheus-pushgateway") or (
        PUSHGATEWAY_BINARY if Path(PUSHGATEWAY_BINARY).exists() else None
    )
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus-pushgateway is not installed (make ensure-pushgateway)")
        pytest.skip("prometheus-pushgateway is not installed: `make ensure-pushgateway` (apt-get)")
    return binary


@contextmanager
def pushgateway_process() -> Iterator[Pushgateway]:
    """``prometheus-pushgateway`` on 127.0.0.1:<free port>, in memory only, stopped afterwards."""
    binary = binary_or_skip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        # Debian's build persists to /var/lib/prometheus by default: in memory only, one per test.
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus-pushgateway did not start on port {port}")
            time.sleep(0.02)
        yield Pushgateway(url)
    finally:
        stop(process, 5)
        if process.stderr is not None:
            process.stderr.close()
