"""The one reader of JSON the gateway did not write itself: bounded in size and in nesting depth.

Python's ``json`` recurses once per level of nesting and raises ``RecursionError`` (not a
``ValueError``) past the interpreter's recursion limit, so a thousand ``[`` in a token or a body used to
escape every ``except ValueError`` and become a 500. Here the depth is measured before parsing,
without recursion: only brackets outside strings count, and a document with fewer brackets than
the limit (every token, almost every body) is not scanned at all. Whatever is refused raises one
type, ``JsonInputError`` (a ``ValueError``); each caller turns it into its own 400 or 401.

The limits are named here, together, so that one page says what the gateway reads.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final

from bakery_gateway.errors import JsonInputError

# Deeper than any document the gateway reads (a token's claims are 2 levels, an alert's data a few),
# far below the ~1000 levels at which Python's parser gives up.
MAX_DEPTH: Final = 32
# A token segment: a token is refused above tokens.MAX_TOKEN_LENGTH (8 KB) before it is parsed.
TOKEN_SEGMENT_BYTES: Final = 8192
# The bodies the gateway reads itself (login and registration, demo session, geocoding): a few fields.
REQUEST_BODY_BYTES: Final = 64 * 1024
# (A WebSocket message is read within platform_limits.WEBSOCKET_MESSAGE_BYTES, API Gateway's 128 KB.)
# POST /internal/alerts: up to fanout.MAX_ALERTS_PER_EVENT alerts of ~10 KB (message and data) each.
ALERT_BATCH_BYTES: Final = 2 * 1024 * 1024
# One alert published on Redis by a producer that only publishes (alerts.subscriber).
ALERT_BYTES: Final = 64 * 1024
# What a service or Nominatim answers: a subscription, geocoding results, an OpenAPI document.
SERVICE_ANSWER_BYTES: Final = 8 * 1024 * 1024
# OpenAPI documents nest schemas inside schemas: deeper than a body, still far from the parser's limit.
SERVICE_ANSWER_DEPTH: Final = 128
# Records the gateway itself wrote to Redis and reads back (claims, connections, health, caches).
STORED_RECORD_BYTES: Final = 1024 * 1024

# Each byte's step in depth: +1 for an opening bracket, -1 for a closing one.
_STEPS: Final = [0] * 256
_STEPS[ord("[")] = _STEPS[ord("{")] = 1
_STEPS[ord("]")] = _STEPS[ord("}")] = -1
# A JSON string (brackets inside it are text), or a run of anything that is not a bracket.
_NOT_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^\[\]{}"]+', re.DOTALL)


def loads(data: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``data`` parsed as JSON (bytes are UTF-8, RFC 8259 §8.1); ``JsonInputError`` when it is
    longer than ``max_bytes`` (characters, for text), nested deeper than ``max_depth``, or not JSON."""
    if len(data) > max_bytes:
        raise JsonInputError(f"JSON document over {max_bytes} bytes")
    if isinstance(data, bytes | bytearray):
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise JsonInputError("JSON document is not UTF-8") from None
    else:
        text = data
    if depth(text, at_most=max_depth) > max_depth:
        raise JsonInputError(f"JSON document nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError as error:
        raise JsonInputError(f"not JSON: {error.args[0] if error.args else 'malformed'}") from None


def depth(text: str, *, at_most: int = MAX_DEPTH) -> int:
    """How deep ``text``'s arrays and objects nest, counting only brackets outside strings.

    When ``text`` has no more than ``at_most`` opening brackets in all, that count is returned
    unscanned: it bounds the depth, and ``str.count`` costs next to nothing. Malformed text (an
    unclosed string) may be measured deeper than it is, never shallower.
    """
    opening = text.count("[") + text.count("{")
    if opening <= at_most:
        return opening
    brackets = _NOT_STRUCTURE.sub("", text).encode("ascii")
    return max(accumulate(map(_STEPS.__getitem__, brackets)), default=0)
