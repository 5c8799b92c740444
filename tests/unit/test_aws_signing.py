"""Our SigV4 signer signs exactly as botocore's SigV4Auth does (same request, credentials and time)."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from bakery_gateway import aws_signing
from bakery_gateway.aws_signing import Credentials, SigV4Signer
from bakery_gateway.websocket.management_api import connection_url

NOW = datetime.datetime(2026, 11, 26, 7, 5, 9, tzinfo=datetime.UTC)
BODY = b'{"type":"alert","stream_id":"1732600000000-0"}'
SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def botocore_headers(url: str, body: bytes, credentials: Credentials) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body)
    signer = SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token),
        "execute-api",
        "eu-west-1",
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    return {name: request.headers[name] for name in SIGNATURE_HEADERS if name in request.headers}


@pytest.mark.parametrize(
    "management_url",
    [
        "https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live",
        "http://127.0.0.1:8000",
        "http://localhost:80/live/",
    ],
)
@pytest.mark.parametrize("connection_id", ["L0SM9cOFvHcCIhw=", "a+b/c=", "plain-id_1.~"])
@pytest.mark.parametrize(
    "token", ["FwoGZXIvYXdzEJr//session+token=", None], ids=["session token", "no token"]
)
def test_the_signature_headers_equal_botocores(
    management_url: str, connection_id: str, token: str | None
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    url = connection_url(management_url, connection_id)

    ours = SigV4Signer("execute-api", "eu-west-1").headers("POST", url, BODY, credentials, NOW)

    assert ours == botocore_headers(url, BODY, credentials)


def test_a_session_token_is_sent_and_signed() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", "token-1")

    headers = SigV4Signer("execute-api", "eu-west-1").headers(
        "POST", "https://example.com/live/@connections/a%3D", b"", credentials, NOW
    )

    assert headers["X-Amz-Security-Token"] == "token-1"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in headers["Authorization"]


def test_the_signing_key_is_derived_once_per_day() -> None:
    signer = SigV4Signer("execute-api", "eu-west-1")
    credentials = Credentials("AKIDEXAMPLE", "secret")

    with mock.patch.object(aws_signing, "_hmac", wraps=aws_signing._hmac) as derive:
        for _ in range(3):
            signer.headers("POST", "https://example.com/live/@connections/a", b"", credentials, NOW)

    assert derive.call_count == 4  # date, region, service, aws4_request: once


def test_the_credential_scope_names_the_day_region_and_service() -> None:
    headers = SigV4Signer("execute-api", "us-east-2").headers(
        "POST", "https://example.com/@connections/a", b"", Credentials("AKID", "secret"), NOW
    )

    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-2/execute-api/aws4_request, "
    )
