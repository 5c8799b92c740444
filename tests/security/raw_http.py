"""One HTTP/1.1 exchange as raw bytes: what no client library sends (``..`` kept, CRLF, two lengths)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RawResponse:
    status: int  # 0: the server closed the connection without answering
    headers: list[tuple[str, str]]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


def send_raw(base_url: str, request: bytes) -> RawResponse:
    """Send ``request`` as is to the server of ``base_url``; read until the server closes."""
    address = urlsplit(base_url)
    with socket.create_connection(
        (address.hostname or "127.0.0.1", address.port or 80), TIMEOUT_SECONDS
    ) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        sock.sendall(request)
        chunks: list[bytes] = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return parse_response(b"".join(chunks))


def request_bytes(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """A request with ``target`` written as given, and ``Connection: close`` so the answer ends."""
    lines = [f"{method} {target} HTTP/1.1", "Host: gateway.test", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get(base_url: str, target: str, token: str | None = None, *extra: tuple[str, str]) -> RawResponse:
    headers = [("Authorization", f"Bearer {token}")] if token else []
    return send_raw(base_url, request_bytes("GET", target, [*headers, *extra]))


def parse_response(data: bytes) -> RawResponse:
    if not data:
        return RawResponse(0, [], b"")
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return RawResponse(int(status_line.split(" ")[1]), headers, body)
