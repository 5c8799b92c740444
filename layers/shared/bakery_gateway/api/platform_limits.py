"""Lambda's and API Gateway's quotas, in one place: the handlers and the local runtime read them here.

The values are AWS's documented quotas, none of which can be raised (docs/limits.md cites the pages
and says, for each, where it is enforced and what a client gets):

- Lambda: a synchronous invocation's payload is at most 6 MB each way, measured as the JSON of the
  event and of the function's result (a base64 body counts at its encoded size); Lambda's "MB" is
  1,024 KB.
- HTTP API: a 10 MB payload, 10,240 bytes of request line and header values, a 30 s integration
  timeout.
- WebSocket API: 32 KB frames, 128 KB messages, 10 minutes idle, 2 hours per connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

KIB: Final = 1024
MIB: Final = 1024 * KIB

LAMBDA_REQUEST_PAYLOAD_BYTES: Final = 6 * MIB
LAMBDA_RESPONSE_PAYLOAD_BYTES: Final = 6 * MIB
HTTP_API_PAYLOAD_BYTES: Final = 10 * MIB
HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES: Final = 10_240
HTTP_API_INTEGRATION_TIMEOUT_SECONDS: Final = 30.0
WEBSOCKET_FRAME_BYTES: Final = 32 * KIB
WEBSOCKET_MESSAGE_BYTES: Final = 128 * KIB
WEBSOCKET_IDLE_SECONDS: Final = 10 * 60
WEBSOCKET_CONNECTION_SECONDS: Final = 2 * 60 * 60

# What a request's event holds besides its body's encoded text, at most: the request line and
# headers (10,240 bytes) appear up to three times (rawPath, requestContext.http.path, pathParameters;
# the query as rawQueryString and queryStringParameters; the user agent twice), JSON escaping can
# double them (61,440 bytes); then the authorizer's context (8 KB: the WebSocket API's authorizer
# result quota; the HTTP API states none, and ours is far smaller) and the fixed members (~2 KB).
# Rounded up to 128 KiB, which leaves ~50 KiB to spare (measured: the largest request the proxy
# accepts has an envelope of ~23 KB, tests/integration/forwarding/test_platform_limits.py).
EVENT_ENVELOPE_BYTES: Final = 128 * KIB
# The largest body whose event always fits in an invocation: base64 (4 bytes for every 3) is the
# most a body grows in an event, unless it is text with more than a third of it JSON escapes.
DEFAULT_MAX_REQUEST_BYTES: Final = (LAMBDA_REQUEST_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) // 4 * 3
# Above this not even a plain text body (not base64-encoded, nothing to escape) fits.
MAX_REQUEST_BYTES_CEILING: Final = LAMBDA_REQUEST_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES

# What the proxy keeps of its time for itself after the service call (recording the outcome in
# Redis, building the answer) and for a cold start's initialisation, which API Gateway's 30 s counts
# and the function's own timeout does not.
ANSWER_MARGIN_SECONDS: Final = 2.0
# A character of a JSON string costs at most 12 bytes encoded (an emoji: a surrogate pair of \uXXXX);
# a key, a value or a container's punctuation (quotes, brackets, ", ", ": ") at most 8.
_MAX_BYTES_PER_CHARACTER: Final = 12
_MAX_PUNCTUATION_BYTES: Final = 8


def invocation_payload_bytes(document: Any) -> int:
    """The size Lambda counts for an event or a result: its JSON, as the Python 3.11 runtime encodes
    a result (awslambdaric: ASCII-escaped, default separators)."""
    return len(json.dumps(document).encode())


def fits_in_invocation(document: Any, limit: int) -> bool:
    """Whether ``document`` (an event, a result) is at most ``limit`` bytes as Lambda counts them;
    encoded only when the length of its text alone does not tell (a large body)."""
    return _encoded_size_bound(document) <= limit or invocation_payload_bytes(document) <= limit


def fits_in_response(response: Mapping[str, Any]) -> bool:
    """Whether Lambda can return ``response``."""
    return fits_in_invocation(response, LAMBDA_RESPONSE_PAYLOAD_BYTES)


def request_line_and_headers_bytes(
    method: str, target: bytes, http_version: str, headers: Iterable[tuple[bytes, bytes]]
) -> int:
    """What HTTP API's 10,240-byte quota counts: the request line and the header values."""
    request_line = len(method) + 1 + len(target) + len(" HTTP/") + len(http_version)
    return request_line + sum(len(value) for _, value in headers)


def answer_deadline(context: Any, now: float) -> float | None:
    """When the function's answer must be ready (on ``now``'s clock): ``ANSWER_MARGIN_SECONDS`` before
    the earlier of its own timeout and API Gateway's 30 s; None without a Lambda context to read."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds = min(float(remaining()) / 1000, HTTP_API_INTEGRATION_TIMEOUT_SECONDS)
    return now + seconds - ANSWER_MARGIN_SECONDS


def _encoded_size_bound(document: Any) -> int:
    """At least the size of ``document``'s JSON, counted without encoding it."""
    if isinstance(document, Mapping):
        members = sum(
            _encoded_size_bound(key) + _encoded_size_bound(value) for key, value in document.items()
        )
        return _MAX_PUNCTUATION_BYTES + members
    if isinstance(document, list | tuple):
        return _MAX_PUNCTUATION_BYTES + sum(_encoded_size_bound(item) for item in document)
    return _MAX_PUNCTUATION_BYTES + _MAX_BYTES_PER_CHARACTER * len(str(document))
