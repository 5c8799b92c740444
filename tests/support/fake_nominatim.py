"""A fake Nominatim on a real socket: ``GET /search`` as ``format=jsonv2`` answers it, recorded.

Each request is recorded with its arrival time, so a test can check the one-request-per-second
rule as Nominatim would see it. By default any ``q`` (or structured query) finds one place built from
the query, and ``q=nowhere`` finds none. A test can make it answer a status, be slow, or answer
bytes that are not JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from tests.support.threaded_server import ThreadedServer, tracked_handler

NOWHERE = "nowhere"
LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"


@dataclass(frozen=True)
class NominatimRequest:
    arrived_at: float  # time.monotonic() when the request line was read
    path: str
    parameters: dict[str, str]
    headers: dict[str, str]  # names lower-cased


def place_for(parameters: dict[str, str]) -> dict[str, object]:
    """The one place the fake finds for a query: Madrid's Puerta del Sol, named after the query."""
    name = parameters.get("q") or ", ".join(
        parameters[key] for key in ("street", "city", "postalcode", "country") if key in parameters
    )
    return {
        "place_id": 1234,
        "licence": LICENCE,
        "osm_type": "node",
        "osm_id": 2_640_337_070,
        "lat": "40.4168898",
        "lon": "-3.7038261",
        "category": "place",
        "type": "square",
        "place_rank": 25,
        "importance": 0.5423,
        "addresstype": "square",
        "name": name,
        "display_name": f"{name}, Centro, Madrid, Comunidad de Madrid, 28013, España",
        "address": {
            "road": "Puerta del Sol",
            "city": "Madrid",
            "postcode": "28013",
            "country": "España",
            "country_code": "es",
        },
        "boundingbox": ["40.4163898", "40.4173898", "-3.7043261", "-3.7033261"],
    }


@dataclass
class _Script:
    status: int = 200
    body: bytes | None = None  # None: the places found for the query
    headers: tuple[tuple[str, str], ...] = ()
    delay_seconds: float = 0.0
    requests: list[NominatimRequest] = field(default_factory=list)


class FakeNominatim(ThreadedServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 and an ephemeral port."""

    def __init__(self) -> None:
        self._script = _Script()
        super().__init__("fake-nominatim")

    # --- what a test tells it ----------------------------------------------------------------
    def reply(self, status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> None:
        with self._lock:
            self._script.status, self._script.body, self._script.headers = status, body, headers

    def be_slow(self, seconds: float) -> None:
        with self._lock:
            self._script.delay_seconds = seconds

    # --- what a test reads -------------------------------------------------------------------
    @property
    def requests(self) -> list[NominatimRequest]:
        with self._lock:
            return list(self._script.requests)

    # --- the server side ---------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(tracked_handler(fake)):  # type: ignore[misc]
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                arrived_at = time.monotonic()
                target = urlsplit(self.path)
                parameters = dict(parse_qsl(target.query))
                recorded = NominatimRequest(
                    arrived_at,
                    target.path,
                    parameters,
                    {key.lower(): value for key, value in self.headers.items()},
                )
                with fake._lock:
                    fake._script.requests.append(recorded)
                    script = _Script(
                        fake._script.status,
                        fake._script.body,
                        fake._script.headers,
                        fake._script.delay_seconds,
                    )
                if script.delay_seconds and fake._stopping.wait(script.delay_seconds):
                    self.close_connection = True
                    return
                if script.body is not None:
                    body = script.body
                elif target.path != "/search":
                    script.status, body = 404, b"<html>not found</html>"
                else:
                    places = [] if parameters.get("q") == NOWHERE else [place_for(parameters)]
                    body = json.dumps(places).encode()
                try:
                    self.send_response(script.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    for name, value in script.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the gateway gave up on a slow answer
                    self.close_connection = True

        return Handler
