"""Posting one payload to every connection of a topic, through the ``@connections`` API.

Posts run concurrently (``WEBSOCKET_POST_CONCURRENCY`` at once). A post that answers 410 Gone removes
*that* connection — never another one, and never the one whose message caused the delivery (the
mistake of the SAM chat sample). Throttling (429 / ``LimitExceededException``) is retried with
exponential backoff and jitter. Every post's outcome is counted in
``gateway_websocket_deliveries_total{outcome}``. Delivery never raises: whatever it carries is
already stored (the alert stream) or transient (training progress).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.observability import WEBSOCKET_DELIVERIES, logger
from bakery_gateway.websocket.connections import Connections

# API Gateway's WebSocket limit for one message (frames are 32 KB; it reassembles up to 128 KB).
MAX_MESSAGE_BYTES = 128 * 1024
THROTTLING_CODES = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequestsException"})
GONE_CODES = frozenset({"GoneException"})
OUTCOMES = ("delivered", "gone", "throttled", "failed", "too_large", "not_configured")


class ManagementApi(Protocol):
    """The one call of boto3's ``apigatewaymanagementapi`` client that delivery uses."""

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> object: ...  # noqa: N803


class LazyManagementClient:
    """boto3's ``apigatewaymanagementapi`` client, created on first post (boto3 costs ~0.3 s of cold
    start) and then kept for the container. Thread-safe: boto3 clients are."""

    def __init__(self, endpoint_url: str, *, max_pool_connections: int = 32) -> None:
        self.endpoint_url = endpoint_url
        self._max_pool_connections = max_pool_connections
        self._client: Any = None
        self._lock = threading.Lock()

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> object:  # noqa: N803
        return self._get().post_to_connection(Data=Data, ConnectionId=ConnectionId)

    def _get(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "apigatewaymanagementapi",
                    endpoint_url=self.endpoint_url,
                    region_name=region_of(self.endpoint_url),
                    config=Config(
                        connect_timeout=2,
                        read_timeout=5,
                        max_pool_connections=self._max_pool_connections,
                        # Throttling is retried here, counted; botocore's own retries would hide it.
                        retries={"total_max_attempts": 1},
                    ),
                )
            return self._client


def region_of(endpoint_url: str) -> str | None:
    """``eu-west-1`` of ``https://abc.execute-api.eu-west-1.amazonaws.com/live``; None otherwise
    (boto3 then takes the region from the environment)."""
    labels = (urlsplit(endpoint_url).hostname or "").split(".")
    if len(labels) > 3 and labels[1] == "execute-api":
        return labels[2]
    return None


@dataclass
class Report:
    topic: str
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, count: int = 1) -> None:
        WEBSOCKET_DELIVERIES.labels(outcome=outcome).inc(count)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, **{outcome: self.outcomes.get(outcome, 0) for outcome in OUTCOMES}}


class Delivery:
    def __init__(
        self,
        connections: Connections,
        api: ManagementApi | None,
        *,
        concurrency: int = 32,
        max_attempts: int = 4,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connections = connections
        self._api = api
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def deliver(self, topic: str, payload: Mapping[str, Any]) -> Report:
        """Post ``payload`` (as JSON) to every connection subscribed to ``topic``."""
        report = Report(topic)
        try:
            connection_ids = sorted(self._connections.subscribers(topic))
        except RedisUnavailableError as error:
            logger.warning("WebSocket subscribers unavailable", extra={"topic": topic, "reason": str(error)})
            return report
        if not connection_ids:
            return report
        if self._api is None:
            logger.warning(
                "WEBSOCKET_MANAGEMENT_URL not set: WebSocket delivery skipped", extra={"topic": topic}
            )
            report.add("not_configured", len(connection_ids))
            return report
        data = json.dumps(payload, separators=(",", ":")).encode()
        if len(data) > MAX_MESSAGE_BYTES:
            logger.warning("payload over 128 KB: not posted", extra={"topic": topic, "bytes": len(data)})
            report.add("too_large", len(connection_ids))
            return report
        workers = min(self._concurrency, len(connection_ids))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ws-post") as pool:
            outcomes = list(pool.map(lambda connection_id: self._post(connection_id, data), connection_ids))
        for connection_id, outcome in zip(connection_ids, outcomes, strict=True):
            report.add(outcome)
            if outcome == "gone":
                self._forget(topic, connection_id)
        return report

    def _post(self, connection_id: str, data: bytes) -> str:
        assert self._api is not None
        for attempt in range(self._max_attempts):
            try:
                self._api.post_to_connection(Data=data, ConnectionId=connection_id)
                return "delivered"
            except Exception as error:  # botocore errors, read without importing botocore
                code, status = error_code(error)
                if code in GONE_CODES or status == 410:
                    return "gone"
                if code not in THROTTLING_CODES and status != 429:
                    logger.warning("WebSocket post failed", extra={"code": code or type(error).__name__})
                    return "failed"
                if attempt + 1 < self._max_attempts:
                    delay = self._backoff_seconds * 2**attempt
                    self._sleep(delay + random.uniform(0, delay))  # noqa: S311 - jitter, not a secret
        return "throttled"

    def _forget(self, topic: str, connection_id: str) -> None:
        """The stale connection, and only it, out of every topic (its record may be gone already)."""
        try:
            self._connections.remove(connection_id)
            self._connections.drop_subscriber(topic, connection_id)
        except RedisUnavailableError as error:
            logger.warning("stale WebSocket connection not removed", extra={"reason": str(error)})


def error_code(error: Exception) -> tuple[str | None, int | None]:
    """The error code and HTTP status of a botocore ``ClientError``; (None, None) for anything else."""
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return None, None
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return (str(code) if code else None), (int(status) if status else None)
