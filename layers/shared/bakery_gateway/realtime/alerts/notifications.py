"""Alerts that ask for email or WhatsApp are handed to the notification service.

``POST {NOTIFICATION_SERVICE_URL}/api/v1/notifications/alerts`` with the alert as the JSON body and
``X-Tenant-ID``/``X-Request-ID`` headers. The alert is already stored when this runs: a failure is
logged and counted (``gateway_alert_notification_failures_total``), never raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakery_gateway.constants import REQUEST_ID_HEADER, TENANT_ID_HEADER
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.telemetry.observability import NOTIFICATION_FAILURES, logger

if TYPE_CHECKING:
    import httpx

NOTIFICATIONS_PATH = "/api/v1/notifications/alerts"
# Below this much time left in the invocation a notification is not attempted (counted as failed).
MIN_SECONDS = 0.5


class Notifier:
    def __init__(self, client: httpx.Client, base_url: str | None) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + NOTIFICATIONS_PATH if base_url else None

    def notify(self, alert: Alert, request_id: str, seconds_left: float | None = None) -> bool:
        """Tell the notification service about ``alert`` when it asks for a channel; False on failure.

        ``seconds_left``: what remains of the invocation's time; the request never waits longer
        (nor starts with less than ``MIN_SECONDS``), so a slow service cannot time the function out.
        """
        if not alert.channels:
            return True
        if self._url is None:
            return self._failed(alert, "NOTIFICATION_SERVICE_URL is not configured")
        if seconds_left is not None and seconds_left < MIN_SECONDS:
            return self._failed(alert, "no time left in this invocation")
        import httpx

        headers = {TENANT_ID_HEADER: alert.tenant_id, REQUEST_ID_HEADER: request_id}
        configured = self._client.timeout.read or float("inf")
        timeout = (
            httpx.Timeout(seconds_left)
            if seconds_left is not None and seconds_left < configured
            else httpx.USE_CLIENT_DEFAULT
        )
        try:
            response = self._client.post(self._url, json=alert.to_dict(), headers=headers, timeout=timeout)
        except httpx.HTTPError as error:
            return self._failed(alert, f"{type(error).__name__}: {error}")
        if response.is_success:
            return True
        return self._failed(alert, f"answered {response.status_code}")

    @staticmethod
    def _failed(alert: Alert, reason: str) -> bool:
        NOTIFICATION_FAILURES.inc()
        logger.warning(
            "alert notification failed",
            extra={"alert_id": alert.alert_id, "tenant_id": alert.tenant_id, "reason": reason},
        )
        return False


def notification_client(connect_seconds: float, read_seconds: float) -> httpx.Client:
    import httpx

    timeout = httpx.Timeout(
        connect=connect_seconds, read=read_seconds, write=read_seconds, pool=connect_seconds
    )
    # trust_env=False: a proxy variable in the Lambda environment must not reroute service calls.
    return httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
