"""The events the fanout function receives, one class per source (mangum-style ``can_handle``).

- a direct invocation: ``{"alert": {...}}`` or ``{"alerts": [...]}``;
- an EventBridge event: ``"detail-type": "Alert"``, ``"detail"`` = the alert;
- training progress, for WebSocket subscribers only: ``{"training_progress": {...}}`` directly, or
  an EventBridge event with ``"detail-type": "TrainingProgress"`` (``websocket.training``);
- an HTTP API payload 2.0 event for the IAM-authorized ``POST /internal/alerts``: the body is one
  alert or a list of them.

Direct and EventBridge events are answered with the summary; a Redis failure raises, so that Lambda
(or EventBridge) retries. HTTP events get 202 with the summary, or a problem response.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bakery_gateway import bounded_json
from bakery_gateway.api.problems import problem_headers, problem_json
from bakery_gateway.api.request import request_id_for
from bakery_gateway.edge.lambda_event import request_headers
from bakery_gateway.errors import (
    BadRequestError,
    GatewayError,
    InvalidAlertError,
    JsonInputError,
    RedisUnavailableError,
    StateUnavailableError,
)
from bakery_gateway.realtime.alerts.fanout import MAX_ALERTS_PER_EVENT, Fanout, Summary

# What producers put on EventBridge; template.yaml's rule for the fanout function matches exactly this.
EVENTBRIDGE_SOURCE = "bakery-ia.alerts"
EVENTBRIDGE_DETAIL_TYPE = "Alert"
# What the training service puts on EventBridge for a job's progress (a rule of its own).
TRAINING_EVENTBRIDGE_SOURCE = "bakery-ia.training"
TRAINING_DETAIL_TYPE = "TrainingProgress"
# Time kept back from the invocation's remaining time for storing the rest and answering.
RESERVE_SECONDS = 1.0


def time_budget(context: Any) -> Callable[[], float] | None:
    """Seconds the invocation may still spend on notifications, from Lambda's context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: remaining() / 1000 - RESERVE_SECONDS


class UnrecognisedEventError(Exception):
    """An event none of the sources recognises: a wiring mistake, raised so it is seen."""


class DirectInvocation:
    @classmethod
    def can_handle(cls, event: Mapping[str, Any]) -> bool:
        return ("alert" in event) != ("alerts" in event) and "requestContext" not in event

    def __init__(self, event: Mapping[str, Any], context: Any) -> None:
        self.event = event
        self.request_id = str(getattr(context, "aws_request_id", "") or request_id_for(None))
        self.seconds_left = time_budget(context)

    def handle(self, fanout: Fanout) -> dict[str, Any]:
        raw = [self.event["alert"]] if "alert" in self.event else self.event["alerts"]
        if not isinstance(raw, list) or len(raw) > MAX_ALERTS_PER_EVENT:
            raise BadRequestError(f"alerts must be a list of at most {MAX_ALERTS_PER_EVENT} alerts")
        return fanout.process(raw, self.request_id, self.seconds_left).as_dict()


class EventBridgeEvent:
    @classmethod
    def can_handle(cls, event: Mapping[str, Any]) -> bool:
        return "detail-type" in event and "detail" in event and "source" in event

    def __init__(self, event: Mapping[str, Any], context: Any) -> None:
        self.event = event
        self.request_id = request_id_for(str(event.get("id", "")))
        self.seconds_left = time_budget(context)

    def handle(self, fanout: Fanout) -> dict[str, Any]:
        if self.event["detail-type"] == TRAINING_DETAIL_TYPE:
            return fanout.progress(self.event["detail"])
        if self.event["detail-type"] != EVENTBRIDGE_DETAIL_TYPE:
            raise BadRequestError(
                f"detail-type must be {EVENTBRIDGE_DETAIL_TYPE!r} or {TRAINING_DETAIL_TYPE!r}"
            )
        return fanout.process([self.event["detail"]], self.request_id, self.seconds_left).as_dict()


class TrainingProgressInvocation:
    @classmethod
    def can_handle(cls, event: Mapping[str, Any]) -> bool:
        return "training_progress" in event and "requestContext" not in event

    def __init__(self, event: Mapping[str, Any], context: Any) -> None:
        self.event = event

    def handle(self, fanout: Fanout) -> dict[str, Any]:
        return fanout.progress(self.event["training_progress"])


class HttpApiEvent:
    @classmethod
    def can_handle(cls, event: Mapping[str, Any]) -> bool:
        return event.get("version") == "2.0" and "http" in event.get("requestContext", {})

    def __init__(self, event: Mapping[str, Any], context: Any) -> None:
        self.event = event
        self.request_id = request_id_for(request_headers(event).get("x-request-id"))
        self.seconds_left = time_budget(context)

    def handle(self, fanout: Fanout) -> dict[str, Any]:
        try:
            raw = self._alerts()
            summary = fanout.process(raw, self.request_id, self.seconds_left)
            if summary.all_refused:
                raise _all_refused(summary, single=len(raw) == 1)
        except RedisUnavailableError:
            return self._problem(StateUnavailableError("alerts cannot be stored right now; retry"))
        except GatewayError as error:
            return self._problem(error)
        return self._response(202, {"content-type": "application/json"}, json.dumps(summary.as_dict()))

    def _alerts(self) -> list[object]:
        body = self.event.get("body") or ""
        try:
            text = base64.b64decode(body, validate=True) if self.event.get("isBase64Encoded") else body
            document = bounded_json.loads(text, max_bytes=bounded_json.ALERT_BATCH_BYTES)
        except (binascii.Error, JsonInputError) as error:
            raise BadRequestError(
                f"the body must be an alert or a list of alerts, as JSON ({error})"
            ) from None
        alerts = document if isinstance(document, list) else [document]
        if not alerts or len(alerts) > MAX_ALERTS_PER_EVENT:
            raise BadRequestError(f"send between 1 and {MAX_ALERTS_PER_EVENT} alerts")
        return alerts

    def _problem(self, error: GatewayError) -> dict[str, Any]:
        return self._response(
            error.status,
            problem_headers(error, self.request_id),
            problem_json(error, self.request_id).decode(),
        )

    def _response(self, status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        return {
            "statusCode": status,
            "headers": {**headers, "x-request-id": self.request_id},
            "body": body,
            "isBase64Encoded": False,
        }


def _all_refused(summary: Summary, *, single: bool) -> InvalidAlertError:
    if single:
        return InvalidAlertError(summary.refused_reasons[0]["invalid_fields"])
    return InvalidAlertError(
        {
            f"[{reason['index']}].{name}": message
            for reason in summary.refused_reasons
            for name, message in reason["invalid_fields"].items()
        }
    )


class Source(Protocol):
    @classmethod
    def can_handle(cls, event: Mapping[str, Any]) -> bool: ...

    def __init__(self, event: Mapping[str, Any], context: Any) -> None: ...

    def handle(self, fanout: Fanout) -> dict[str, Any]: ...


# Adding a source is adding a class here; the first that can handle an event gets it.
SOURCES: tuple[type[Source], ...] = (
    HttpApiEvent,
    EventBridgeEvent,
    TrainingProgressInvocation,
    DirectInvocation,
)


def handle(event: Mapping[str, Any], context: Any, fanout: Fanout) -> dict[str, Any]:
    for source in SOURCES:
        if source.can_handle(event):
            return source(event, context).handle(fanout)
    raise UnrecognisedEventError(
        "not a direct invocation, training progress, an EventBridge event or an HTTP API event"
    )
