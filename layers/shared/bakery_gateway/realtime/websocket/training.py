"""Training progress events: ``{"training_progress": {"tenant_id", "job_id", "progress", ...}}``.

The training service sends them to the fanout function (direct invocation, or EventBridge with
detail-type ``TrainingProgress``); they go to the ``training:{tenant_id}:{job_id}`` subscribers and
are not stored (a client that reconnects gets the next one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import BadRequestError

MAX_ID_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TrainingProgress:
    tenant_id: str
    job_id: str
    progress: float  # percent, 0-100
    details: Mapping[str, Any]  # every other member, passed on as sent (status, message, eta, ...)

    @classmethod
    def from_mapping(cls, raw: object) -> TrainingProgress:
        if not isinstance(raw, Mapping):
            raise BadRequestError("training_progress must be a JSON object")
        tenant_id, job_id, progress = raw.get("tenant_id"), raw.get("job_id"), raw.get("progress")
        for name, value in (("tenant_id", tenant_id), ("job_id", job_id)):
            if not _identifier(value):
                raise BadRequestError(f"training_progress.{name} must be an id without ':' or white space")
        if isinstance(progress, bool) or not isinstance(progress, int | float) or not 0 <= progress <= 100:
            raise BadRequestError("training_progress.progress must be a number from 0 to 100")
        details = {key: value for key, value in raw.items() if key not in ("tenant_id", "job_id", "progress")}
        return cls(str(tenant_id), str(job_id), float(progress), details)

    @property
    def topic(self) -> str:
        return redis_keyspace.training_topic(self.tenant_id, self.job_id)

    def payload(self) -> dict[str, Any]:
        """What subscribers receive."""
        return {
            "type": "training_progress",
            "topic": self.topic,
            "data": {
                **self.details,
                "tenant_id": self.tenant_id,
                "job_id": self.job_id,
                "progress": self.progress,
            },
        }


def _identifier(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and ":" not in value
        and not any(character.isspace() for character in value)
    )
