"""An alert as services send it, validated once: every bad field is named in one ``InvalidAlertError``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.errors import InvalidAlertError

SEVERITIES = ("low", "medium", "high", "critical")
# Channels beyond the always-on SSE/WebSocket delivery, routed to the notification service.
NOTIFICATION_CHANNELS = ("email", "whatsapp")
MAX_MESSAGE_LENGTH = 2000
MAX_DATA_BYTES = 8 * 1024
MAX_ID_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Alert:
    """Fields other than these are ignored: a producer may send more than the gateway delivers."""

    alert_id: str
    tenant_id: str
    severity: str
    message: str
    timestamp: str  # ISO 8601 in UTC, "Z"-suffixed
    type: str | None = None
    channels: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: object) -> Alert:
        if not isinstance(raw, Mapping):
            raise InvalidAlertError({"alert": "must be a JSON object"})
        errors: dict[str, str] = {}
        alert_id = _identifier(raw, "alert_id", errors)
        tenant_id = _identifier(raw, "tenant_id", errors)
        severity = raw.get("severity")
        if severity not in SEVERITIES:
            errors["severity"] = f"must be one of {', '.join(SEVERITIES)}"
        message = raw.get("message")
        if not isinstance(message, str) or not message.strip():
            errors["message"] = "must be a non-empty string"
        elif len(message) > MAX_MESSAGE_LENGTH:
            errors["message"] = f"must be at most {MAX_MESSAGE_LENGTH} characters"
        timestamp = _timestamp(raw.get("timestamp"), errors)
        kind = raw.get("type")
        if kind is not None and (not isinstance(kind, str) or not kind.strip()):
            errors["type"] = "must be a non-empty string when given"
        channels = _channels(raw.get("channels", []), errors)
        data = raw.get("data", {})
        if not isinstance(data, Mapping):
            errors["data"] = "must be a JSON object"
        elif (problem := _data_problem(data)) is not None:
            errors["data"] = problem
        if errors:
            raise InvalidAlertError(errors)
        return cls(
            alert_id=str(alert_id),
            tenant_id=str(tenant_id),
            severity=str(severity),
            message=str(message),
            timestamp=str(timestamp),
            type=kind,
            channels=channels,
            data=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "alert_id": self.alert_id,
            "tenant_id": self.tenant_id,
            "severity": self.severity,
            "message": self.message,
            "timestamp": self.timestamp,
            "channels": list(self.channels),
            "data": dict(self.data),
        }
        if self.type is not None:
            document["type"] = self.type
        return document

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _data_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with ``data`` as the alert carries it: too large, or nested too deep (a direct
    invocation's event was parsed by Lambda, not by bounded_json)."""
    try:
        text = _dumps(data)
    except RecursionError:  # nested past the encoder's own limit, so far past ours
        text = None
    if text is not None and len(text.encode()) > MAX_DATA_BYTES:
        return f"must serialize to at most {MAX_DATA_BYTES} bytes"
    if text is None or bounded_json.depth(text) > bounded_json.MAX_DEPTH:
        return f"must nest at most {bounded_json.MAX_DEPTH} levels"
    return None


def _identifier(raw: Mapping[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        errors[name] = "must be a non-empty string"
        return None
    if len(value) > MAX_ID_LENGTH or any(character.isspace() for character in value):
        errors[name] = f"must be at most {MAX_ID_LENGTH} characters, without whitespace"
        return None
    return value


def _timestamp(value: object, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        errors["timestamp"] = "must be an ISO 8601 date-time string"
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors["timestamp"] = "must be an ISO 8601 date-time string"
        return None
    if parsed.tzinfo is None:
        errors["timestamp"] = "must carry a UTC offset or Z"
        return None
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _channels(value: object, errors: dict[str, str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors["channels"] = "must be a list of strings"
        return ()
    unknown = [item for item in value if item not in NOTIFICATION_CHANNELS]
    if unknown:
        errors["channels"] = f"must be a subset of {', '.join(NOTIFICATION_CHANNELS)}"
        return ()
    return tuple(dict.fromkeys(value))
