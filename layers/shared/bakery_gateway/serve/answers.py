"""What a server standing in for API Gateway answers itself, and how an answer goes out over ASGI.

API Gateway's own answers are a JSON object with a message (``{"message": "Forbidden"}``), never a
problem document: ``serve`` and the local runtime answer alike. An IAM route (SigV4) has no IAM to
ask outside AWS, so both accept it from this machine only (a loopback source address).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from starlette.types import Send

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]
# Never copied from a function's answer: the server frames the body itself.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
# API Gateway would otherwise guess at a body's type; every answer of ours names its own.
DEFAULT_CONTENT_TYPE = "application/json"


def message(status: int, text: str) -> Answer:
    """One of API Gateway's own answers: a JSON object with a message."""
    return json_answer(status, {"message": text})


def json_answer(status: int, document: object) -> Answer:
    body = json.dumps(document).encode()
    return (
        status,
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        body,
    )


NOT_FOUND = message(404, "Not Found")
UNAUTHORIZED = message(401, "Unauthorized")
FORBIDDEN = message(403, "Forbidden")
INTERNAL_SERVER_ERROR = message(500, "Internal Server Error")
SERVICE_UNAVAILABLE = message(503, "Service Unavailable")
TOO_LARGE = message(413, "Request Entity Too Large")


def http_answer(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Answer:
    """A function's answer as it goes out: names in lower case, framing headers of the server's own,
    a content type always (``application/json`` when the function named none, as on Lambda)."""
    encoded: Headers = []
    typed = False
    for name, value in headers:
        lowered = name.lower()
        if lowered in FRAMING_HEADERS:
            continue
        typed = typed or lowered == "content-type"
        encoded.append((lowered.encode("latin-1"), value.encode("latin-1")))
    if not typed:
        encoded.append((b"content-type", DEFAULT_CONTENT_TYPE.encode()))
    encoded.append((b"content-length", str(len(body)).encode()))
    return status, encoded, body


async def send_whole(send: Send, answer: Answer) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def is_loopback(source_ip: str) -> bool:
    try:
        address = ipaddress.ip_address(source_ip.strip("[]"))
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def metrics_answer() -> Answer:
    """``/metrics``: this process's registry, as Prometheus scrapes it (docs/observability.md)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from bakery_gateway.telemetry.observability import registry

    body = generate_latest(registry)
    return (
        200,
        [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"content-length", b"%d" % len(body))],
        body,
    )
