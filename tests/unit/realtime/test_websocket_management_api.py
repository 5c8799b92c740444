"""The @connections client's request: where boto3 would send it, and in which region it is signed."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest

from bakery_gateway.clients.aws_signing import Credentials
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.realtime.websocket.management_api import ConnectionsClient, connection_url, region_of

MANAGEMENT_URL = "https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live"


class SentError(Exception):
    """Stops boto3 before its request goes out."""


def boto3_request_url(connection_id: str) -> str:
    """Where boto3's post_to_connection sends the request."""
    sent: list[str] = []
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=MANAGEMENT_URL,
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )

    def capture(request: Any, **_: Any) -> Any:
        sent.append(request.url)
        raise SentError

    management.meta.events.register("before-send.apigatewaymanagementapi.PostToConnection", capture)
    with pytest.raises(SentError):
        management.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    return sent[0]


@pytest.mark.parametrize("connection_id", ["L0SM9cOFvHcCIhw=", "a+b/c=", "plain-id_1.~"])
def test_the_post_goes_where_boto3_sends_it(connection_id: str) -> None:
    assert connection_url(MANAGEMENT_URL, connection_id) == boto3_request_url(connection_id)


def test_a_trailing_slash_of_the_management_url_is_not_doubled() -> None:
    assert connection_url("http://127.0.0.1:8000/", "a=") == "http://127.0.0.1:8000/@connections/a%3D"


def test_without_a_region_a_post_cannot_be_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    api = ConnectionsClient("http://127.0.0.1:8000", credentials=lambda: Credentials("AKID", "secret"))

    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        asyncio.run(api.post("a=", b"{}"))


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live", "eu-west-1"),
        ("http://127.0.0.1:8000/live", None),
    ],
)
def test_the_region_is_read_from_an_api_gateway_url(url: str, region: str | None) -> None:
    assert region_of(url) == region
