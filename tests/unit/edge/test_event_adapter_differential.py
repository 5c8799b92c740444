"""``http_api.AsgiAppHandler`` against the library it replaced: Mangum (``lifespan="off"``), same events.

One ASGI application under both records the scope and body it is given and answers what the event
asks of it; the scope, the body and the Lambda response must be the same. The differences that
remain are deliberate, each undone here by name (docs/architecture.md, "Hand-written replacements"):

- the path is ``requestContext.http.path`` as API Gateway gives it, already percent-decoded:
  Mangum ``unquote``s it once more (``%2541`` reaches the application as ``A``);
- without ``X-Forwarded-Port`` the server's port is 443 (all API Gateway serves), not Mangum's 80;
- ``application/problem+json`` (every error of the gateway's own) goes back as text, not base64;
- a response header's bytes are read as Latin-1 (one character a byte), as the gateway reads
  every header and as the local runtime and ``serve`` write them back; Mangum reads UTF-8, and
  raises ``UnicodeDecodeError`` on other bytes. (What API Gateway itself writes for a non-ASCII
  character in a Lambda response's header is not known here: docs/architecture.md.)
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mangum import Mangum

from bakery_gateway.edge.lambda_http import AsgiAppHandler
from tests.support.events import HTTP_API_PROXY, load_event

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ANSWER_HEADER = "x-answer"  # the application answers what this header (JSON) asks
SCOPE_KEYS = (
    "type",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "root_path",
    "query_string",
    "headers",
    "server",
    "client",
    "asgi",
)


class Recorder:
    """The application: records each scope and body, answers as the event's ``x-answer`` says."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append(({key: scope.get(key) for key in SCOPE_KEYS}, body))
        headers = {bytes(name): bytes(value) for name, value in scope["headers"]}
        answer = json.loads(headers.get(ANSWER_HEADER.encode(), b"{}"))
        await send(
            {
                "type": "http.response.start",
                "status": answer.get("status", 200),
                "headers": [
                    (name.encode(), base64.b64decode(value)) for name, value in answer.get("headers", [])
                ],
            }
        )
        await send({"type": "http.response.body", "body": base64.b64decode(answer.get("body", ""))})


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The thread's loop, as on Lambda: Mangum runs on ``get_event_loop()``; AsgiAppHandler is awaited
    on it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def through_both(
    loop: asyncio.AbstractEventLoop, event: dict[str, Any]
) -> dict[str, tuple[dict[str, Any] | str, tuple[dict[str, Any], bytes] | None]]:
    """Each adapter's Lambda response (or the exception it raised) and what the application saw."""
    results: dict[str, tuple[dict[str, Any] | str, tuple[dict[str, Any], bytes] | None]] = {}
    for name in ("mangum", "ours"):
        app = Recorder()
        try:
            if name == "mangum":
                response = Mangum(app, lifespan="off")(json.loads(json.dumps(event)), None)  # type: ignore[arg-type]
            else:
                response = loop.run_until_complete(AsgiAppHandler(_built(app))(event, None))
        except Exception as error:  # an adapter that fails is an outcome to compare
            results[name] = (type(error).__name__, app.seen[0] if app.seen else None)
            continue
        results[name] = (response, app.seen[0] if app.seen else None)
    return results


def _built(app: Recorder) -> Any:
    return lambda: app


def as_latin_1(text: str) -> str:
    """UTF-8 text (Mangum's reading of a header's bytes) as the gateway reads the same bytes."""
    return text.encode().decode("latin-1")


def normalised_scope(seen: tuple[dict[str, Any], bytes]) -> tuple[dict[str, Any], bytes]:
    scope, body = seen
    return {**scope, "headers": [(bytes(name), bytes(value)) for name, value in scope["headers"]]}, body


# --- the events ---------------------------------------------------------------------------------
path_pieces = st.one_of(
    st.text("abcXYZ019-._~", min_size=1, max_size=6),
    st.sampled_from(["é", "a b", "%41", "%2541", "%2F", "x%zz"]),
)
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_categories=("Cs", "Cc")), max_size=12
).map(str.strip)
content_types = st.sampled_from(
    [
        "application/json",
        "application/problem+json",
        "text/plain; charset=utf-8",
        "text/html",
        "application/octet-stream",
        "image/png",
        "application/vnd.oai.openapi+json",
        None,
    ]
)


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    """What the application answers: a status, headers (repeats, cookies), a body."""
    headers: list[tuple[str, bytes]] = []
    content_type = draw(content_types)
    if content_type is not None:
        headers.append(("content-type", content_type.encode()))
    headers += draw(
        st.lists(
            st.tuples(
                st.sampled_from(["set-cookie", "x-trace", "cache-control", "vary"]),
                header_values.map(str.encode),
            ),
            max_size=4,
        )
    )
    if draw(st.integers(0, 9)) == 0:
        headers.append(("x-latin", "café".encode("latin-1")))  # not UTF-8
    body = draw(st.one_of(st.text(max_size=40).map(str.encode), st.binary(max_size=40)))
    return {
        "status": draw(st.sampled_from([200, 201, 204, 302, 400, 404, 500])),
        "headers": [(name, base64.b64encode(value).decode()) for name, value in headers],
        "body": base64.b64encode(body).decode(),
    }


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    path = "/api/v1/" + "/".join(draw(st.lists(path_pieces, min_size=1, max_size=4)))
    headers = {
        "host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        "x-forwarded-proto": draw(st.sampled_from(["https", "http"])),
        ANSWER_HEADER: json.dumps(draw(answers())),
    }
    if draw(st.integers(0, 4)):
        headers["x-forwarded-port"] = draw(st.sampled_from(["443", "8443"]))
    headers.update(draw(st.dictionaries(st.sampled_from(["accept", "x-note", "user-agent"]), header_values)))
    body = draw(st.one_of(st.none(), st.text(max_size=30), st.binary(max_size=30)))
    event = load_event(
        HTTP_API_PROXY,
        method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"])),
        path=path,
        headers=headers,
        query=draw(st.sampled_from(["", "a=1", "a=1&a=2", "q=caf%C3%A9&x"])),
        cookies=draw(st.one_of(st.none(), st.lists(st.sampled_from(["a=1", "b=2", "s=x y"]), max_size=3))),
        body=body,
    )
    if body is None:
        event.pop("body", None)
    return event


@PROPERTY_SETTINGS
@given(event=events())
@example(event=load_event(HTTP_API_PROXY))
def test_the_application_and_api_gateway_get_the_same_from_both_adapters(
    loop: asyncio.AbstractEventLoop, event: dict[str, Any]
) -> None:
    results = through_both(loop, event)

    mangum_response, mangum_seen = results["mangum"]
    ours_response, ours_seen = results["ours"]
    assert ours_seen is not None
    assert mangum_seen is not None
    mangum_scope, mangum_body = normalised_scope(mangum_seen)
    ours_scope, ours_body = normalised_scope(ours_seen)
    # Deliberate: the path as API Gateway decoded it; the server's port 443 unless told otherwise.
    assert ours_scope["path"] == event["requestContext"]["http"]["path"]
    assert mangum_scope["path"] == unquote(ours_scope["path"])
    if "x-forwarded-port" not in event["headers"]:
        assert (mangum_scope["server"][1], ours_scope["server"][1]) == (80, 443)
        mangum_scope["server"] = ours_scope["server"]
    assert {**mangum_scope, "path": ours_scope["path"]} == ours_scope
    assert mangum_body == ours_body

    assert isinstance(ours_response, dict)
    if mangum_response == "UnicodeDecodeError":  # deliberate: a header that is not UTF-8 passes
        assert ours_response["headers"]["x-latin"].endswith("café")
        return
    assert isinstance(mangum_response, dict)
    # Deliberate: header bytes read as Latin-1 where Mangum reads UTF-8.
    mangum_response["headers"] = {
        name: as_latin_1(value) for name, value in mangum_response["headers"].items()
    }
    if "cookies" in mangum_response:
        mangum_response["cookies"] = [as_latin_1(cookie) for cookie in mangum_response["cookies"]]
    text_problem = "problem+json" in ours_response["headers"].get("content-type", "")
    if text_problem and mangum_response["isBase64Encoded"] and not ours_response["isBase64Encoded"]:
        # Deliberate: the gateway's errors go back as text (a body that is not UTF-8 goes as base64).
        assert base64.b64decode(mangum_response["body"]).decode() == ours_response["body"]
        mangum_response = {**mangum_response, "body": ours_response["body"], "isBase64Encoded": False}
    assert mangum_response == ours_response
