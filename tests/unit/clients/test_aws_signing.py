"""Our SigV4 signer signs exactly as botocore's SigV4Auth does (same request, credentials and time).

A differential test of the hand-written replacement (docs/architecture.md, "Hand-written
replacements"): for the requests the gateway signs (a POST to ``@connections/{id}``, no query string),
no difference is deliberate. Requests with a query string are refused (``ValueError``), not signed.
"""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from bakery_gateway.clients import aws_signing
from bakery_gateway.clients.aws_signing import Credentials, SigV4Signer
from bakery_gateway.realtime.websocket.management_api import connection_url

NOW = datetime.datetime(2026, 11, 26, 7, 5, 9, tzinfo=datetime.UTC)
BODY = b'{"type":"alert","stream_id":"1732600000000-0"}'
SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def botocore_headers(
    url: str,
    body: bytes,
    credentials: Credentials,
    now: datetime.datetime = NOW,
    service: str = "execute-api",
    region: str = "eu-west-1",
    method: str = "POST",
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body)
    signer = SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token),
        service,
        region,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
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


management_urls = st.builds(
    lambda scheme, host, port, stage: f"{scheme}://{host}{port}{stage}",
    st.sampled_from(["https", "http"]),
    st.sampled_from(
        ["w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com", "127.0.0.1", "localhost", "Example.COM"]
    ),
    st.sampled_from(["", ":443", ":80", ":8000"]),
    st.sampled_from(["", "/", "/live", "/live/", "/v1/prod", "/a b", "/%41", "/x/../y"]),
)
secrets = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, database=None)
@given(
    management_url=management_urls,
    connection_id=st.text(max_size=20),
    body=st.binary(max_size=200),
    credentials=st.builds(Credentials, secrets, secrets, st.one_of(st.none(), secrets)),
    now=st.datetimes(
        min_value=datetime.datetime(2000, 1, 1),
        max_value=datetime.datetime(2100, 1, 1),
        timezones=st.just(datetime.UTC),
    ),
    region=st.sampled_from(["eu-west-1", "us-east-2", "ap-southeast-2"]),
    service=st.sampled_from(["execute-api", "lambda"]),
    method=st.sampled_from(["POST", "GET", "DELETE", "post"]),
)
def test_any_request_the_gateway_signs_gets_botocores_signature(
    management_url: str,
    connection_id: str,
    body: bytes,
    credentials: Credentials,
    now: datetime.datetime,
    region: str,
    service: str,
    method: str,
) -> None:
    url = connection_url(management_url, connection_id)

    ours = SigV4Signer(service, region).headers(method, url, body, credentials, now)

    assert ours == botocore_headers(url, body, credentials, now, service, region, method.upper())


def test_a_url_with_a_query_string_is_refused_not_signed() -> None:
    with pytest.raises(ValueError, match="without a query string"):
        SigV4Signer("execute-api", "eu-west-1").headers(
            "POST", "https://example.com/@connections/a?x=1", b"", Credentials("AKID", "secret"), NOW
        )


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
