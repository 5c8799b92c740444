"""Builds the local HTTP and WebSocket API application from ``template.yaml`` and the environment.

``create_app`` is the uvicorn factory: with ``--reload`` uvicorn calls it in a fresh process after
every code change, so handler code is picked up without restarting Redis or the sample services.
"""

from __future__ import annotations

import os
from pathlib import Path

from bakery_gateway.api.platform_limits import HTTP_API_INTEGRATION_TIMEOUT_SECONDS
from bakery_local.gateway import LocalHttpApi
from bakery_local.invoker import Invoker
from bakery_local.template import read_http_api
from bakery_local.websocket_gateway import LocalWebSocketApi
from bakery_local.websocket_template import read_websocket_api

TEMPLATE_VARIABLE = "BAKERY_LOCAL_TEMPLATE"
WORKERS_VARIABLE = "BAKERY_LOCAL_WORKERS"
# Comma-separated logical ids of functions to run in worker processes of their own (Invoker).
SEPARATE_PROCESSES_VARIABLE = "BAKERY_LOCAL_SEPARATE_PROCESSES"
# API Gateway's 30 s integration timeout, shorter for tests (as the WebSocket API's idle and maximum).
INTEGRATION_TIMEOUT_VARIABLE = "BAKERY_LOCAL_INTEGRATION_TIMEOUT_SECONDS"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_template() -> Path:
    return Path(os.environ.get(TEMPLATE_VARIABLE) or PROJECT_ROOT / "template.yaml")


def build_gateway(template: Path | None = None, *, workers: int | None = None) -> LocalHttpApi:
    path = template or default_template()
    api = read_http_api(path)
    separate = [name for name in os.environ.get(SEPARATE_PROCESSES_VARIABLE, "").split(",") if name]
    invoker = Invoker(
        api.functions,
        workers=workers or int(os.environ.get(WORKERS_VARIABLE, "32")),
        separate_processes=separate,
    )
    websocket_api = read_websocket_api(path)
    websocket = LocalWebSocketApi(websocket_api, invoker) if websocket_api is not None else None
    return LocalHttpApi(
        api,
        invoker,
        websocket=websocket,
        # What the cloud refuses, refused here too: Lambda's payloads, HTTP API's header size.
        integration_timeout_seconds=float(
            os.environ.get(INTEGRATION_TIMEOUT_VARIABLE, HTTP_API_INTEGRATION_TIMEOUT_SECONDS)
        ),
    )


def create_app() -> LocalHttpApi:
    """The uvicorn factory."""
    return build_gateway()
