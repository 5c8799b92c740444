"""Reading an ASGI request's whole body: ``serve``, the local runtime's servers and sample services,
the test and bench servers all need it."""

from __future__ import annotations

import sys

from starlette.types import Message, Receive

from bakery_gateway.errors import ClientDisconnectedError


async def read_body_within(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body; None as soon as it passes ``max_bytes`` (the rest is not read).

    Raises ``ClientDisconnectedError`` when the client leaves before the body's end.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def read_body(receive: Receive) -> bytes:
    """The whole body, however long (``ClientDisconnectedError`` as above)."""
    return await read_body_within(receive, sys.maxsize) or b""
