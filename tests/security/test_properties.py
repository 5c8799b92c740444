"""Property-based tests (hypothesis) of the two pure defences every request passes through: path
normalisation (``routing``, ``path_patterns``) and the downstream header filter (``forwarding``)."""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bakery_gateway import constants as names
from bakery_gateway.demo import DemoAccountType
from bakery_gateway.errors import BadRequestError, DownstreamUnavailableError, RouteNotFoundError
from bakery_gateway.forwarding import ClientOrigin, downstream_headers
from bakery_gateway.identity import Identity
from bakery_gateway.path_patterns import path_matches
from bakery_gateway.routing import TENANT_SERVICE, resolve

SERVICE_URLS = {service: f"http://{service}.internal" for service in names.SERVICES}
# No example database: the same run on every machine, and no .hypothesis/ folder in the tree.
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Pieces that path tricks are made of, raw and encoded once or twice.
TRICKY_PIECES = [
    ".", "..", "%2e", "%2E", "%2e%2e", "%252e", "/", "%2f", "%2F", "%252f", "\\", "%5c", "%5C", "%00",
    "%0a", "%0d", "%c0%ae", "%25", "%", "~", ";", "?", "#", " ", "%20", "é", "%c3%a9",
]  # fmt: skip
segment_text = st.lists(
    st.one_of(st.sampled_from(TRICKY_PIECES), st.text("abcXYZ019-_", min_size=1, max_size=4)),
    min_size=1,
    max_size=4,
).map("".join)
service_names = st.sampled_from([*names.SERVICES, "sales", "auth", "tenants", "nope", ".", "..", "%2e%2e"])
paths = st.builds(
    lambda first, rest: "/api/v1/" + "/".join([first, *rest]),
    service_names,
    st.lists(st.one_of(segment_text, service_names), max_size=5),
)


def as_the_service_reads_it(raw_path: str) -> str:
    """What a lenient downstream server makes of a path: decoded once, backslashes as slashes,
    dot segments resolved, repeated slashes merged."""
    decoded = unquote(raw_path).replace("\\", "/")
    normalised = posixpath.normpath(decoded)
    return "/" + normalised.lstrip("/")


@PROPERTY_SETTINGS
@given(paths)
@example("/api/v1/sales/..%2fauth/x")
@example("/api/v1/demo/%2e%2e/sales/orders")
@example("/api/v1/tenants/t1/%2e%2e/auth")
def test_a_routed_path_names_the_same_service_however_the_service_reads_it(raw_path: str) -> None:
    try:
        route = resolve(raw_path, SERVICE_URLS)
    except (BadRequestError, RouteNotFoundError, DownstreamUnavailableError):
        return  # refused: nothing reaches any service

    seen = as_the_service_reads_it(raw_path).rstrip("/")
    assert seen == route.normalized_path
    segments = seen.split("/")[1:]
    assert segments[:2] == ["api", "v1"]
    named = segments[2]
    if named == TENANT_SERVICE and len(segments) > 4 and segments[4] in names.SERVICES:
        named = segments[4]
    assert route.service == named
    assert route.base_url == SERVICE_URLS[named]


@PROPERTY_SETTINGS
@given(paths)
def test_a_routed_path_decodes_to_itself_a_second_time(raw_path: str) -> None:
    try:
        route = resolve(raw_path, SERVICE_URLS)
    except (BadRequestError, RouteNotFoundError, DownstreamUnavailableError):
        return

    assert unquote(route.normalized_path) == route.normalized_path  # no second decoding changes it
    assert route.path == raw_path  # forwarded as received: no re-encoding by the gateway


@PROPERTY_SETTINGS
@given(st.lists(st.text(min_size=1, max_size=8).filter(lambda s: "/" not in s), min_size=1, max_size=5))
def test_any_path_of_plain_segments_is_routed_to_the_service_it_names(segments: list[str]) -> None:
    raw_path = "/api/v1/sales/" + "/".join(quote(segment, safe="") for segment in segments)
    decoded = [unquote(quote(segment, safe="")) for segment in segments]
    ambiguous = any(
        s in (".", "..") or any(ord(c) < 32 or ord(c) == 127 for c in s) or "\\" in s for s in decoded
    )
    double = any(unquote(s) != s for s in decoded)

    if ambiguous or double:
        with pytest.raises(BadRequestError):
            resolve(raw_path, SERVICE_URLS)
    else:
        assert resolve(raw_path, SERVICE_URLS).service == "sales"


@PROPERTY_SETTINGS
@given(st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=4), st.text(max_size=6))
def test_a_single_star_never_matches_across_a_slash(prefix: list[str], rest: str) -> None:
    pattern = "/api/v1/tenants/*/billing"
    path = "/api/v1/tenants/" + "/".join(prefix) + "/billing"

    assert path_matches(path, pattern) == (len(prefix) == 1 and "/" not in prefix[0])


@PROPERTY_SETTINGS
@given(st.text(alphabet=".^$+?()[]{}|\\abc", min_size=1, max_size=8), st.text(max_size=8))
def test_pattern_characters_other_than_stars_match_only_themselves(literal: str, other: str) -> None:
    pattern = f"/api/v1/{literal}/**"

    assert path_matches(f"/api/v1/{literal}/x", pattern)
    if other != literal and "*" not in other:
        assert not path_matches(f"/api/v1/{other}/x", pattern)


# --- the downstream header filter ------------------------------------------------------------------
IDENTITY = Identity(
    user_id="user-1",
    tenant_id="tenant-a",
    tenant_ids=("tenant-a",),
    roles=("owner",),
    jti="jti-1",
    issued_at=0,
    expires_at=1,
    demo_session_id="session-1",
    demo_account_type=DemoAccountType.ENTERPRISE,
)
ORIGIN = ClientOrigin(source_ip="203.0.113.10", protocol="https", host="api.bakery.example")
GATEWAY_OWNED = names.IDENTITY_HEADERS | {
    names.REQUEST_ID_HEADER, "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
}  # fmt: skip
SPECIAL_NAMES = sorted(
    GATEWAY_OWNED
    | names.HOP_BY_HOP_HEADERS
    | {"forwarded", "x-forwarded-port", "host", "content-length", names.API_KEY_HEADER}
)
header_names = st.one_of(
    st.sampled_from(SPECIAL_NAMES),
    st.sampled_from(["authorization", "cookie", "accept", "x-custom", "x-tenant-idx", "x-user-id-2"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
connection_values = st.lists(st.one_of(st.sampled_from(SPECIAL_NAMES), header_names), max_size=4).map(
    ", ".join
)
client_headers = st.lists(
    st.one_of(st.tuples(header_names, header_values), st.tuples(st.just("connection"), connection_values)),
    max_size=12,
)


@PROPERTY_SETTINGS
@given(client_headers)
def test_downstream_gets_exactly_the_gateways_identity_whatever_the_client_sends(
    headers: list[tuple[str, str]],
) -> None:
    sent = downstream_headers(
        headers, identity=IDENTITY, tenant_id="tenant-a", request_id="req-1", origin=ORIGIN
    )

    values = {name: [value for key, value in sent if key == name] for name in GATEWAY_OWNED}
    assert values[names.USER_ID_HEADER] == ["user-1"]
    assert values[names.TENANT_ID_HEADER] == ["tenant-a"]
    assert values[names.USER_ROLES_HEADER] == ["owner"]
    assert values[names.DEMO_SESSION_HEADER] == ["session-1"]
    assert values[names.DEMO_ACCOUNT_TYPE_HEADER] == ["enterprise"]
    assert values[names.REQUEST_ID_HEADER] == ["req-1"]
    assert values["x-forwarded-for"] == ["203.0.113.10"]


@PROPERTY_SETTINGS
@given(client_headers)
def test_no_hop_by_hop_or_connection_listed_header_is_forwarded(headers: list[tuple[str, str]]) -> None:
    sent = downstream_headers(headers, identity=None, tenant_id=None, request_id="req-1", origin=ORIGIN)

    listed = {
        token.strip()
        for name, value in headers
        if name == "connection"
        for token in value.split(",")
        if token.strip()
    }
    sent_names = {name for name, _ in sent}
    assert not sent_names & names.HOP_BY_HOP_HEADERS
    assert not sent_names & (listed - GATEWAY_OWNED)
    assert not sent_names & names.IDENTITY_HEADERS  # no identity at all when there is no caller
    assert not sent_names & {"forwarded", "x-forwarded-port", "host", "content-length"}


@PROPERTY_SETTINGS
@given(client_headers)
def test_every_other_client_header_arrives_unchanged_and_in_order(headers: list[tuple[str, str]]) -> None:
    sent = downstream_headers(
        headers, identity=IDENTITY, tenant_id="tenant-a", request_id="req-1", origin=ORIGIN
    )

    listed = {
        token.strip().lower()
        for name, value in headers
        if name == "connection"
        for token in value.split(",")
        if token.strip()
    }
    dropped = set(SPECIAL_NAMES) | listed
    expected = [(name, value) for name, value in headers if name not in dropped]
    assert [pair for pair in sent if pair[0] not in GATEWAY_OWNED] == expected
