"""The EMF blob the exporter renders (``emf.emf_blob``) against powertools' own ``flush_metrics``.

The same metrics, values and metadata through both; the JSON documents must be equal but for the
timestamp (each takes the clock's), and one line each. No difference is deliberate. An invocation
powertools would split into several blobs (100 values of one metric, or 100 metrics) is written by
powertools itself, and so is not compared here.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from hypothesis import given, settings
from hypothesis import strategies as st

from bakery_gateway.telemetry import emf
from bakery_gateway.telemetry import observability as obs

NAMESPACE = "BakeryIA/Gateway"
NAMES = [emf.REQUESTS_METRIC, *emf.UNITS, "gateway_redis_errors_total", "gateway_auth_cache_hits_total"]
UNIT_OF = {**emf.UNITS, emf.REQUESTS_METRIC: MetricUnit.Count}


def powertools_output(entries: list[emf.Entry], metadata: dict[str, str]) -> str:
    written = io.StringIO()
    with contextlib.redirect_stdout(written):
        emf.powertools_blobs(Metrics(namespace=NAMESPACE, service=obs.SERVICE_NAME), entries, metadata)
    return written.getvalue()


def without_timestamp(line: str) -> dict[str, Any]:
    blob: dict[str, Any] = json.loads(line)
    del blob["_aws"]["Timestamp"]
    return blob


entries = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.one_of(st.integers(0, 10**7), st.floats(0, 1e4, allow_nan=False, allow_infinity=False)),
    ).map(lambda item: (item[0], UNIT_OF.get(item[0], MetricUnit.Count), item[1])),
    min_size=1,
    max_size=40,
)
metadata = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST"]),
        "path": st.sampled_from(["/api/v1/sales/{proxy+}", "unmatched", "/api/v1/é"]),
        "status_code": st.sampled_from(["200", "503"]),
        "request_id": st.text(min_size=1, max_size=12),
    }
)


@settings(max_examples=150, deadline=None, database=None)
@given(entries=entries, metadata=metadata)
def test_the_rendered_blob_is_the_one_powertools_writes(
    entries: list[emf.Entry], metadata: dict[str, str]
) -> None:
    ours = emf.emf_blob(NAMESPACE, entries, metadata, timestamp_ms=1_765_000_000_000)
    (theirs,) = powertools_output(entries, metadata).splitlines()

    assert "\n" not in ours
    assert without_timestamp(ours) == without_timestamp(theirs)
    assert ours.replace('"Timestamp":1765000000000', "") == theirs.replace(
        f'"Timestamp":{json.loads(theirs)["_aws"]["Timestamp"]}', ""
    )


def test_an_invocation_that_reaches_powertools_limit_goes_through_powertools_in_several_blobs() -> None:
    exporter = emf.EmfExporter(NAMESPACE, enabled=True, counters=())
    for _ in range(emf.POWERTOOLS_MAX_METRICS + 50):
        exporter.observe("gateway_request_duration_seconds", 0.001)
    written = io.StringIO()

    with contextlib.redirect_stdout(written):
        exporter.flush()

    assert len(written.getvalue().splitlines()) == 2  # the first 100 values, then the other 50
