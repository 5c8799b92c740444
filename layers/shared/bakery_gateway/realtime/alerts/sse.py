"""``GET /api/v1/alerts/stream``: a tenant's alerts as server-sent events, resumable by stream id.

Behind API Gateway (HTTP APIs buffer responses) one request is one long poll: read the tenant's
stream after the client's position, waiting up to ``sse_wait_seconds``, then answer everything read
as events whose ``id`` is the stream id. EventSource reconnects after ``retry`` ms with
``Last-Event-ID`` = the last id it got, so the next request starts exactly where this one ended.
The local runtime streams continuously by invoking the same handler in a loop (``docs/sse.md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from starlette.responses import Response

from bakery_gateway.api.routes import ALERT_STREAM_PATH
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import BadRequestError, StateUnavailableError
from bakery_gateway.forwarding import routing
from bakery_gateway.settings import AlertSettings

GATEWAY_SERVICE = "gateway"  # the service label of the gateway's own routes
LAST_EVENT_ID_HEADER = "last-event-id"
LAST_EVENT_ID_QUERY = "lastEventId"
TENANT_QUERY = "tenant_id"
# The answer names the tenant whose alerts it carries (chosen by the tenant access rules).
TENANT_HEADER = "x-tenant-id"
ALERT_EVENT = "alert"
# A stage variable that shortens the long poll for one stage (never lengthens it past
# SSE_WAIT_SECONDS). The local runtime sets it to 0: it streams continuously and only needs an
# answer at once (docs/sse.md).
WAIT_STAGE_VARIABLE = "sseWaitSeconds"
EVENT_STREAM_TYPE = "text/event-stream"
RESPONSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# At most this many alerts in one answer; the client resumes after the last one it got.
MAX_ALERTS_PER_ANSWER = 500
# The start of any stream: every real entry id is above it.
STREAM_START = "0-0"
_STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_MAX_ID_PART = 2**64 - 1
# What ends a line in an event stream (str.splitlines would also split on U+2028 and others, and
# change an alert's text).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, order=True, slots=True)
class StreamId:
    """A Redis stream entry id, ``<milliseconds>-<sequence>``, ordered as Redis orders them."""

    milliseconds: int
    sequence: int

    @classmethod
    def parse(cls, text: str) -> StreamId:
        """The id in ``text``; a ``400`` problem when it is not a stream id."""
        match = _STREAM_ID.fullmatch(text.strip())
        if match is None or max(int(match[1]), int(match[2])) > _MAX_ID_PART:
            raise BadRequestError(
                "Last-Event-ID must be an alert stream id (<milliseconds>-<sequence>)",
                extensions={"invalid_params": [{"name": "Last-Event-ID", "reason": "not a stream id"}]},
            )
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.milliseconds}-{self.sequence}"


def resume_position(header: str | None, query: str | None) -> StreamId | None:
    """Where the client stopped: ``Last-Event-ID``, else the ``lastEventId`` query parameter."""
    for value in (header, query):
        if value is not None and value.strip():
            return StreamId.parse(value)
    return None


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """What one request read: the alerts after the client's position, and the position after them."""

    position: StreamId  # the id to resume after: the last entry read, else where the read started
    entries: Sequence[tuple[StreamId, Mapping[str, str]]]
    gap: bool = False  # alerts after the client's position were trimmed before it came back


def gap_detected(resume: StreamId, info: Mapping[str, Any]) -> bool:
    """Whether alerts after ``resume`` may be gone (``info``: ``XINFO STREAM``'s answer).

    Trimming removes the oldest entries only: when entries were ever removed (``entries-added`` >
    ``length``) and the oldest retained one is newer than the client's position, what came between
    may have been trimmed (when only the client's own last alert was, this says so needlessly: the
    stream keeps no record of trimmed ids). An entry deleted after the position
    (``max-deleted-entry-id``, which XDEL moves) is a gap too.
    """
    first, deleted = info.get("first-entry"), info.get("max-deleted-entry-id")
    removed = int(info.get("entries-added", 1)) > int(info.get("length", 0))
    trimmed = removed and first is not None and StreamId.parse(str(first[0])) > resume
    return trimmed or bool(deleted and StreamId.parse(str(deleted)) > resume)


async def read_alerts(
    client: Any, tenant_id: str, resume: StreamId | None, *, wait_seconds: float
) -> AlertBatch:
    """The tenant's alerts after ``resume`` (after now without one), waiting up to ``wait_seconds``
    (0: not at all).

    ``client`` decodes responses, and its socket timeout outlasts the wait. Redis failing: ``503``.
    """
    key = redis_keyspace.alert_stream_key(tenant_id)
    # XREAD BLOCK 0 would wait for ever: no wait at all is a plain XREAD.
    block = int(wait_seconds * 1000) if wait_seconds > 0 else None
    try:
        start = resume if resume is not None else await _latest_id(client, key)
        answer = await client.xread({key: str(start)}, count=MAX_ALERTS_PER_ANSWER, block=block)
        entries = [(StreamId.parse(entry_id), fields) for entry_id, fields in _entries_of(answer)]
        gap = bool(entries) and resume is not None and gap_detected(resume, await client.xinfo_stream(key))
    except (RedisError, OSError) as error:
        raise StateUnavailableError(
            "alerts cannot be read right now; retry shortly", headers={"Retry-After": "5"}
        ) from error
    return AlertBatch(entries[-1][0] if entries else start, entries, gap)


async def _latest_id(client: Any, key: str) -> StreamId:
    """The id of the stream's newest entry: "now" as a concrete position (no ``$``), so an answer
    without alerts can still tell the client where to resume."""
    newest = await client.xrevrange(key, count=1)
    return StreamId.parse(newest[0][0]) if newest else StreamId.parse(STREAM_START)


def _entries_of(answer: Any) -> list[tuple[str, Mapping[str, str]]]:
    if not answer:
        return []
    streams = answer.items() if isinstance(answer, Mapping) else answer
    return [(entry_id, fields) for _, stream_entries in streams for entry_id, fields in stream_entries]


# --- The text/event-stream body ---------------------------------------------------------------


def retry_hint(milliseconds: int) -> str:
    return f"retry: {milliseconds}\n\n"


def event_block(event: str, data: str, event_id: StreamId | None = None) -> str:
    """One event; ``data`` spread over ``data:`` lines so no line break in it can end the event."""
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in _LINE_BREAK.split(data)]
    return "\n".join(lines) + "\n\n"


def position_block(position: StreamId, comment: str) -> str:
    """A comment and an ``id`` with no data: EventSource dispatches nothing, but keeps the id as the
    ``Last-Event-ID`` of its next connection, so an answer without alerts loses none either."""
    return f": {comment}\nid: {position}\n\n"


def gap_block(resume: StreamId, first_delivered: StreamId) -> str:
    document = {
        "reason": "alerts after last_event_id may have been trimmed from the stream before resuming",
        "last_event_id": str(resume),
        "resumed_from": str(first_delivered),
    }
    return event_block("gap", json.dumps(document, separators=(",", ":")))


def render(
    batch: AlertBatch, resume: StreamId | None, *, retry_milliseconds: int, wait_seconds: float
) -> str:
    """The answer's body: the retry hint, then a gap notice, the alerts, or where to resume."""
    parts = [retry_hint(retry_milliseconds)]
    if batch.gap and resume is not None and batch.entries:
        parts.append(gap_block(resume, batch.entries[0][0]))
    delivered: StreamId | None = None
    for entry_id, fields in batch.entries:
        alert = fields.get(redis_keyspace.ALERT_STREAM_FIELD)
        if alert is not None:  # an entry not written per the contract is passed over
            parts.append(event_block(ALERT_EVENT, alert, entry_id))
            delivered = entry_id
    if delivered != batch.position:
        comment = f"no alerts within {wait_seconds:g} s" if not batch.entries else "resume here"
        parts.append(position_block(batch.position, comment))
    return "".join(parts)


# --- The request ---------------------------------------------------------------------------------


def stream_route(raw_path: str) -> routing.Route:
    """The gateway's own route, as the policies and metrics see it (no service behind it)."""
    return routing.gateway_route(raw_path, ALERT_STREAM_PATH, GATEWAY_SERVICE)


def wait_seconds(settings: AlertSettings, stage_variables: Mapping[str, str] | None) -> float:
    """How long this request may wait: ``SSE_WAIT_SECONDS``, shortened by the stage's
    ``sseWaitSeconds`` (a value that is not a number is the operator's mistake: ignored)."""
    configured = settings.sse_wait_seconds
    shortened = (stage_variables or {}).get(WAIT_STAGE_VARIABLE)
    try:
        return configured if shortened is None else max(0.0, min(configured, float(shortened)))
    except ValueError:
        return configured


async def answer(
    client: Any,
    tenant_id: str | None,
    resume: StreamId | None,
    settings: AlertSettings,
    extra_headers: Sequence[tuple[str, str]] = (),
    *,
    wait: float | None = None,
) -> Response:
    """The ``200 text/event-stream`` answer: alerts, or after the wait (``sse_wait_seconds`` unless
    ``wait`` says otherwise) where to resume.

    Never ``204``: it would stop EventSource for good instead of making it reconnect.
    """
    if tenant_id is None:
        raise BadRequestError("choose the tenant whose alerts to stream: X-Tenant-ID or ?tenant_id=")
    waited = settings.sse_wait_seconds if wait is None else wait
    batch = await read_alerts(client, tenant_id, resume, wait_seconds=waited)
    body = render(
        batch,
        resume,
        retry_milliseconds=settings.sse_retry_milliseconds,
        wait_seconds=waited,
    )
    headers = {**RESPONSE_HEADERS, TENANT_HEADER: tenant_id}
    response = Response(content=body, media_type=EVENT_STREAM_TYPE, headers=headers)
    response.raw_headers += [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in extra_headers
    ]
    return response
