"""The two request adapters agree: a request read from its ASGI scope (``serve``) is the request read
from the payload 2.0 event the local runtime builds of the same scope (Lambda, ``make run``), but for
the headers API Gateway adds of its own; over methods, paths, repeated and encoded query keys, header
values of any UTF-8 text, cookies and bodies.

Not covered, because the two hosts are not known to agree there: header bytes that are no UTF-8
(what API Gateway makes of them is not documented) and percent-encoded paths (HTTP APIs are reported
to deliver ``rawPath`` decoded; the local runtime sends it as received: docs/architecture.md)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from bakery_gateway.edge.asgi import request_from_scope
from bakery_gateway.edge.lambda_event import request_from_event
from bakery_local.api_events import IncomingRequest, http_event
from tests.support.identities import identity

ADDED_BY_API_GATEWAY = {"x-forwarded-for", "x-forwarded-proto"}
ROUTE_KEY = "ANY /api/v1/{proxy+}"
VERDICT = identity()

path_pieces = st.sampled_from(["items", "sales", "x-1_2.3~", "A0"])
# What a client sends as bytes, held (as the scope holds them) read as Latin-1.
header_values = (
    st.text(st.characters(min_codepoint=0x20, exclude_categories=("Cc", "Cs")), max_size=12)
    .map(str.strip)
    .map(lambda text: text.encode().decode("latin-1"))
)
headers = st.lists(
    st.tuples(
        st.sampled_from(["accept", "x-note", "user-agent", "content-type", "x-request-id"]), header_values
    ),
    max_size=5,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, Any], IncomingRequest, bytes]:
    raw_path = "/api/v1/" + "/".join(draw(st.lists(path_pieces, min_size=1, max_size=4)))
    query = draw(st.sampled_from(["", "a=1", "a=1&a=2", "q=caf%C3%A9&x", "day=mon&day=tue"]))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    pairs = [("host", "gateway.example"), *draw(headers)]
    pairs += [("cookie", cookie) for cookie in draw(st.lists(st.sampled_from(["a=1", "b=2"]), max_size=2))]
    body = draw(st.binary(max_size=30))
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs],
        "client": ("203.0.113.10", 51000),
        "server": ("10.0.0.5", 443),
    }
    incoming = IncomingRequest(
        method=method,
        raw_path=raw_path,
        raw_query=query,
        headers=pairs,
        body=body,
        source_ip="203.0.113.10",
        scheme="https",
    )
    return scope, incoming, body


@given(requests())
def test_a_request_reads_the_same_from_its_scope_and_from_its_event(
    request: tuple[dict[str, Any], IncomingRequest, bytes],
) -> None:
    scope, incoming, body = request
    event = http_event(
        incoming,
        route_key=ROUTE_KEY,
        stage="$default",
        path_parameters={"proxy": incoming.raw_path.removeprefix("/api/v1/")},
        authorizer_context=VERDICT.to_context(),
    )

    from_event = request_from_event(event)
    from_scope = request_from_scope(scope, body, verdict=VERDICT, route_key=ROUTE_KEY)

    kept = {name: value for name, value in from_event.headers.items() if name not in ADDED_BY_API_GATEWAY}
    assert kept == from_scope.headers
    assert from_event == dataclasses.replace(from_scope, headers=from_event.headers)
