"""Property-based tests (hypothesis) of the pure defences every request passes through: path
normalisation (``routing``, ``path_patterns``), the downstream header filter (``forwarding``), and
every parser of untrusted JSON (``bounded_json`` and its readers)."""

from __future__ import annotations

import base64
import contextlib
import json
import posixpath
from collections.abc import Callable
from typing import cast
from urllib.parse import quote, unquote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bakery_gateway import bounded_json
from bakery_gateway import constants as names
from bakery_gateway.authentication.authorizer import _unverified_claims
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.errors import (
    BadRequestError,
    DownstreamUnavailableError,
    InvalidAlertError,
    InvalidDemoAccountTypeError,
    InvalidGeocodeRequestError,
    InvalidTokenError,
    JsonInputError,
    PayloadTooLargeError,
    RouteNotFoundError,
)
from bakery_gateway.forwarding.downstream import ClientOrigin, downstream_headers
from bakery_gateway.forwarding.pipeline import demo_account_type_of
from bakery_gateway.forwarding.routing import TENANT_SERVICE, resolve
from bakery_gateway.own_routes.geocoding_request import parse_geocode_request
from bakery_gateway.policies import login_attempts
from bakery_gateway.policies.admin_bodies import RateLimitsBody, parse_body
from bakery_gateway.policies.path_patterns import path_matches
from bakery_gateway.realtime.alerts import ingress
from bakery_gateway.realtime.alerts.fanout import Fanout, Summary
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.realtime.websocket import messages
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import FANOUT_HTTP_API, load_event
from tests.support.identities import demo_identity

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
IDENTITY = demo_identity(
    user_id="user-1", tenant_id="tenant-a", tenant_ids=("tenant-a",), jti="jti-1", issued_at=0, expires_at=1
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
# Families only the gateway speaks for, whatever follows the prefix.
GATEWAY_PREFIXES = ("x-demo-", "x-forwarded-")
header_names = st.one_of(
    st.sampled_from(SPECIAL_NAMES),
    # The same names as a WSGI server reads them: "_" for "-".
    st.sampled_from(SPECIAL_NAMES).map(lambda name: name.replace("-", "_")),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from([*GATEWAY_PREFIXES, "x_demo_", "x_forwarded_"]),
            st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True),
        ),
    ),
    st.sampled_from(
        ["authorization", "cookie", "accept", "x-custom", "x-tenant-idx", "x-user-id-2", "x_custom"]
    ),
    st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True),
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
connection_values = st.lists(st.one_of(st.sampled_from(SPECIAL_NAMES), header_names), max_size=4).map(
    ", ".join
)
client_headers = st.lists(
    st.one_of(st.tuples(header_names, header_values), st.tuples(st.just("connection"), connection_values)),
    max_size=12,
)


def as_a_wsgi_server_reads_it(name: str) -> str:
    return name.replace("_", "-")


def gateways_own(name: str) -> bool:
    """Whether a server that reads "_" as "-" would take ``name`` for a header only the gateway sets."""
    read = as_a_wsgi_server_reads_it(name)
    return read in SPECIAL_NAMES or read.startswith(GATEWAY_PREFIXES)


@PROPERTY_SETTINGS
@given(client_headers)
def test_no_header_a_service_could_read_as_the_gateways_own_comes_from_the_client(
    headers: list[tuple[str, str]],
) -> None:
    sent = downstream_headers(
        headers, identity=IDENTITY, tenant_id="tenant-a", request_id="req-1", origin=ORIGIN
    )
    own = downstream_headers([], identity=IDENTITY, tenant_id="tenant-a", request_id="req-1", origin=ORIGIN)

    assert [(name, value) for name, value in sent if gateways_own(name)] == own


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
    expected = [
        (name, value)
        for name, value in headers
        if not gateways_own(name) and name not in listed and as_a_wsgi_server_reads_it(name) not in listed
    ]
    assert [pair for pair in sent if not gateways_own(pair[0])] == expected


# --- every parser of untrusted JSON ------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


def nested(depth: int, opening: str, closed: bool, inner: str) -> str:
    closing = {"[": "]", '{"a":': "}"}[opening]
    return opening * depth + inner + (closing * depth if closed else "")


# What an attacker feeds a parser: nesting past any limit (closed or not, with brackets hidden in
# strings), documents over every size limit, any text, any bytes, and ordinary JSON.
hostile_texts = st.one_of(
    st.builds(
        nested,
        st.integers(1, 3000),
        st.sampled_from(["[", '{"a":']),
        st.booleans(),
        st.sampled_from(["1", '"x"', '"[[[["', '"\\"["', "", "[]"]),
    ),
    st.integers(bounded_json.REQUEST_BODY_BYTES - 8, bounded_json.ALERT_BATCH_BYTES + 8).map(
        lambda size: '{"a":"' + "x" * size + '"}'
    ),
    st.text(max_size=64),
    json_values.map(json.dumps),
)
hostile_bytes = st.one_of(
    hostile_texts.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=64)
)


def json_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(json_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(json_depth, value.values()), default=0)
    return 0


@PROPERTY_SETTINGS
@given(json_values, st.integers(0, 40))
def test_the_bounded_reader_reads_what_json_writes_within_its_depth_and_refuses_the_rest(
    value: object, extra: int
) -> None:
    document = value
    for _ in range(extra):
        document = [document]
    text = json.dumps(document)

    if json_depth(document) <= bounded_json.MAX_DEPTH:
        assert bounded_json.loads(text, max_bytes=len(text)) == document
    else:
        with pytest.raises(JsonInputError):
            bounded_json.loads(text, max_bytes=len(text))


@PROPERTY_SETTINGS
@given(hostile_bytes)
@example(b"[" * 5000)
@example(b'"' + b"[" * 5000)
def test_the_bounded_reader_raises_nothing_but_its_own_error(data: bytes) -> None:
    with contextlib.suppress(JsonInputError):
        bounded_json.loads(data, max_bytes=bounded_json.REQUEST_BODY_BYTES)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@PROPERTY_SETTINGS
@given(hostile_bytes, st.sampled_from(["header", "payload"]))
@example(b"[" * 1000, "payload")
def test_a_token_with_any_header_or_claims_is_refused_only_as_an_invalid_token(
    dev_keys: DevKeyPair, segment: bytes, where: str
) -> None:
    verifier = TokenVerifier(parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS"), JwtSettings())
    header = b64url(json.dumps({"alg": "RS256", "kid": dev_keys.key_id}).encode())
    signing_input = (
        f"{b64url(segment)}.{b64url(b'{}')}" if where == "header" else f"{header}.{b64url(segment)}"
    )
    key = serialization.load_pem_private_key(dev_keys.private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    token = f"{signing_input}.{b64url(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"

    with contextlib.suppress(InvalidTokenError):
        verifier.verify(token)
    _unverified_claims(token)  # the authorizer's peek at jti: never raises


@PROPERTY_SETTINGS
@given(hostile_texts)
def test_a_websocket_message_of_any_shape_gets_the_protocols_error(text: str) -> None:
    with contextlib.suppress(messages.MessageError):
        messages.parse(text)


@PROPERTY_SETTINGS
@given(
    hostile_bytes,
    st.sampled_from([None, "application/json", "application/x-www-form-urlencoded", "text/plain"]),
)
def test_a_body_of_any_shape_is_refused_by_each_reader_with_its_own_400(
    body: bytes, content_type: str | None
) -> None:
    readers: list[tuple[Callable[[], object], tuple[type[Exception], ...]]] = [
        (lambda: parse_geocode_request(body), (InvalidGeocodeRequestError,)),
        (lambda: demo_account_type_of(body), (InvalidDemoAccountTypeError,)),
        (lambda: login_attempts.login_names(body, content_type), (BadRequestError, PayloadTooLargeError)),
        (lambda: parse_body(RateLimitsBody, body), (BadRequestError,)),
        (
            lambda: Alert.from_mapping(bounded_json.loads(body, max_bytes=len(body) + 1)),
            (JsonInputError, InvalidAlertError),
        ),
    ]
    for read, refusals in readers:
        with contextlib.suppress(*refusals):
            read()


class _ValidatingFanout:
    """The fanout's validation without Redis: what ``POST /internal/alerts`` makes of a body."""

    def process(self, raw: list[object], request_id: str, seconds_left: object) -> Summary:
        summary = Summary()
        for index, item in enumerate(raw):
            try:
                Alert.from_mapping(item)
                summary.accepted += 1
            except InvalidAlertError as error:
                summary.refused += 1
                summary.refused_reasons.append({"index": index, "invalid_fields": error.fields})
        return summary


@PROPERTY_SETTINGS
@given(hostile_bytes)
def test_an_internal_alert_body_of_any_shape_is_answered_202_or_400(body: bytes) -> None:
    event = load_event(FANOUT_HTTP_API, body=body)

    answer = ingress.handle(event, None, cast(Fanout, _ValidatingFanout()))

    assert answer["statusCode"] in (202, 400)
