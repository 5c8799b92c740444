"""AWS Signature Version 4 for one request, with hashlib/hmac: what botocore's ``SigV4Auth`` adds.

Only what the gateway signs: a request without a query string whose signed headers are ``host``,
``x-amz-date`` and, with temporary credentials, ``x-amz-security-token``. The path is encoded once
more for the canonical request, as botocore does for every service but S3 (``%3D`` is signed as
``%253D``). The signing key depends on the secret, the day, the region and the service only, so it
is derived once per day (cached), not per request.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Credentials:
    """What ``botocore.credentials.ReadOnlyCredentials`` carries (it can be passed as is)."""

    access_key: str
    secret_key: str
    token: str | None = None


class SigV4Signer:
    """Signs requests for one ``service`` in one ``region``; thread-safe."""

    def __init__(self, service: str, region: str) -> None:
        self.service = service
        self.region = region
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def headers(
        self, method: str, url: str, body: bytes, credentials: Credentials, now: datetime.datetime
    ) -> dict[str, str]:
        """The headers to send with the request: ``X-Amz-Date``, ``X-Amz-Security-Token`` (when the
        credentials have a token) and ``Authorization``. ``url`` is the URL as sent (path already
        percent-encoded); ``now`` is in UTC."""
        timestamp = now.strftime(TIMESTAMP_FORMAT)
        day = timestamp[:8]
        parts = urlsplit(url)
        if parts.query:
            raise ValueError("SigV4Signer signs URLs without a query string")
        signed = {"host": host_header(url), "x-amz-date": timestamp}
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = ";".join(sorted(signed))
        canonical_request = "\n".join(
            (
                method.upper(),
                _canonical_path(parts.path),
                "",  # no query string
                "".join(f"{name}:{signed[name].strip()}\n" for name in sorted(signed)),
                names,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            (ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, day), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        headers = {"X-Amz-Date": timestamp}
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}"
        )
        return headers

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        cached = self._keys.get((secret_key, day))
        if cached is not None:
            return cached
        key = _hmac(f"AWS4{secret_key}".encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        with self._lock:
            # Rotated secrets and past days are dropped: one key is in use at a time.
            self._keys = {(secret_key, day): key}
        return key


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def host_header(url: str) -> str:
    """The ``Host`` header an HTTP client sends: lower case, without a default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _canonical_path(path: str) -> str:
    """Dot segments and empty segments removed, then percent-encoded again (botocore's
    ``_normalize_url_path``: AWS services other than S3 sign the path encoded twice)."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return quote(first + "/".join(segments) + last, safe="/~")
