"""The alert subscriber (``bakery_gateway.realtime.alerts.subscriber``) inside the local runtime.

It runs on a thread of the parent process, like the embedded Redis: it survives the gateway's
restarts on code changes (its own code is the one loaded at start-up) and stops with the runtime.
It uses the fanout function's settings from the environment the runtime prepared (Redis,
``WEBSOCKET_MANAGEMENT_URL`` = the runtime's own ``@connections``, the notification service).
"""

from __future__ import annotations

import threading

from bakery_gateway.clients.factories import sync_redis
from bakery_gateway.realtime.alerts.fanout import fanout_from_settings
from bakery_gateway.realtime.alerts.subscriber import Subscriber
from bakery_gateway.settings import Settings

STOP_SECONDS = 5.0


class LocalAlertSubscriber:
    def __init__(self, *, poll_seconds: float = 0.5) -> None:
        # Read now, from the environment the runtime has set up; not get_settings(), whose cached
        # value the in-process handlers would then share.
        settings = Settings.from_environ()
        self._client = sync_redis(settings.redis)
        self._subscriber = Subscriber(
            self._client, fanout_from_settings(settings, self._client), poll_seconds=poll_seconds
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._subscriber.run, args=(self._stop,), name="alert-subscriber", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_SECONDS)
        self._client.close()
