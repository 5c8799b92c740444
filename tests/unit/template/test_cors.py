"""The CORS facts of ``api/cors.py`` are template.yaml's ``CorsConfiguration``: the same methods,
headers, exposed headers and max age, with the deployment's origins and credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery_gateway.api import cors
from bakery_local.template import read_http_api

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
ORIGINS = "https://app.example.com,https://admin.example.com"


@pytest.mark.parametrize("credentials", ["true", "false"])
def test_the_librarys_cors_configuration_is_the_templates(credentials: str) -> None:
    environ = {"CORS_ORIGINS": ORIGINS, "CORS_ALLOW_CREDENTIALS": credentials}

    template = read_http_api(TEMPLATE, environ=environ).cors

    assert template == cors.gateway_cors(ORIGINS.split(","), allow_credentials=credentials == "true")


def test_without_origins_neither_configures_cors() -> None:
    assert read_http_api(TEMPLATE, environ={"CORS_ORIGINS": ""}).cors is None
    assert cors.gateway_cors((), allow_credentials=True) is None
