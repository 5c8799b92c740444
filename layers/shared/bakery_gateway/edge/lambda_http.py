"""Lambda's side of a function: its invocations on one event loop, and Lambda proxy responses out.

Events come in through ``lambda_event.request_from_event``; answers go back as payload 2.0 Lambda
responses (``lambda_response``). ``AsgiAppHandler`` runs an ASGI application (a function's FastAPI
routes) for a request, as Mangum did for an event: the same scope, the same response shape; a failure
that escapes the application is a 500 problem. The proxy's service paths skip ASGI altogether
(``forwarding/proxy_handler.py``) but answer through the same ``lambda_response``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from bakery_gateway.api.platform_limits import LAMBDA_RESPONSE_PAYLOAD_BYTES, fits_in_response
from bakery_gateway.api.problems import problem_headers, problem_json
from bakery_gateway.api.request import Request, request_id_for
from bakery_gateway.edge.asgi import scope_for
from bakery_gateway.edge.lambda_event import Event, request_from_event
from bakery_gateway.errors import GatewayError, InternalError, ResponseTooLargeError
from bakery_gateway.telemetry.observability import logger

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message

Response = dict[str, Any]
# An answer as HTTP: status, headers (repeated ones repeated), body.
Answer = tuple[int, list[tuple[str, str]], bytes]
Result = TypeVar("Result")
# At most what one byte of a body becomes in a Lambda response's JSON (a control byte as "\u0001"; a
# UTF-8 sequence of n bytes as at most 3n escaped; base64 4/3), what one character of a header becomes
# (one outside the BMP as an escaped surrogate pair), and the bytes around the members: an answer whose
# bound is within Lambda's limit fits without being encoded to measure it.
_ENCODED_BYTES_PER_BODY_BYTE = 6
_ENCODED_BYTES_PER_HEADER_CHARACTER = 12
_RESPONSE_FRAME_BYTES = 256
_HEADER_FRAME_BYTES = 8

# Bodies of these types go back as text; any other body is base64-encoded for API Gateway.
TEXT_MIME_TYPES = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "application/vnd.api+json",
    "application/vnd.oai.openapi",
)


def run_on_container_loop(work: Awaitable[Result]) -> Result:
    """Run ``work`` on this thread's event loop, made once: one loop, so one set of clients, per container."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:  # a thread that has none yet (the local runtime's workers)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop.run_until_complete(work)


def lambda_response(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Response:
    """A payload 2.0 Lambda response: repeated headers joined with commas, ``Set-Cookie`` as cookies,
    a text body as text and any other as base64."""
    combined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "set-cookie":
            cookies.append(value)
        elif name in combined:
            combined[name] = f"{combined[name]},{value}"
        else:
            combined[name] = value
    # API Gateway would otherwise guess at a body's type; every answer of ours names its own.
    content_type = combined.setdefault("content-type", "application/json")
    text, is_base64 = "", False
    if body:
        if any(kind in content_type for kind in TEXT_MIME_TYPES):
            try:
                text = body.decode()
            except UnicodeDecodeError:  # a compressed or binary body under a text type
                text, is_base64 = base64.b64encode(body).decode(), True
        else:
            text, is_base64 = base64.b64encode(body).decode(), True
    response: Response = {
        "statusCode": status,
        "body": text,
        "headers": combined,
        "isBase64Encoded": is_base64,
    }
    if cookies:
        response["cookies"] = cookies
    return response


def fits_in_lambda_response(status: int, headers: list[tuple[str, str]], body: bytes) -> bool:
    """Whether Lambda can return this answer (as ``lambda_response`` writes it)."""
    header_characters = sum(len(name) + len(value) + _HEADER_FRAME_BYTES for name, value in headers)
    bound = (
        _RESPONSE_FRAME_BYTES
        + _ENCODED_BYTES_PER_BODY_BYTE * len(body)
        + _ENCODED_BYTES_PER_HEADER_CHARACTER * header_characters
    )
    if bound <= LAMBDA_RESPONSE_PAYLOAD_BYTES:
        return True
    return fits_in_response(lambda_response(status, headers, body))


def problem_response(error: GatewayError, request_id: str) -> Answer:
    body = problem_json(error, request_id)
    headers = [*problem_headers(error, request_id).items(), ("content-length", str(len(body)))]
    return error.status, headers, body


def response_too_large(service: str | None) -> ResponseTooLargeError:
    """The 502 problem for an answer Lambda cannot return: it would fail the invocation, and API
    Gateway would answer a bare 500 instead (docs/limits.md)."""
    whose = f"the {service} service's answer" if service else "the answer"
    return ResponseTooLargeError(
        f"{whose} is larger than the {LAMBDA_RESPONSE_PAYLOAD_BYTES} bytes a Lambda function can return "
        "(the JSON of its result, a base64 body counting at its encoded size)",
        extensions={"max_bytes": LAMBDA_RESPONSE_PAYLOAD_BYTES},
    )


class AsgiAppHandler:
    """Serves requests with an ASGI application, built on first use (its imports are a cold start's
    largest part, and most containers of the proxy never serve a route of their own)."""

    def __init__(self, build_app: Callable[[], ASGIApp]) -> None:
        self._build_app = build_app
        self._app: ASGIApp | None = None

    @property
    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    async def __call__(self, event: Event, context: Any = None) -> Response:
        """A Lambda invocation: the event read into its request (``lambda_event``), then served."""
        try:
            request = request_from_event(event)
        except Exception:
            return unreadable_event()
        return await self.serve(request)

    async def serve(self, request: Request) -> Response:
        """``request`` through the application, in a scope made of it alone (``asgi.scope_for``)."""
        return lambda_response(*await self.answer(request))

    async def answer(self, request: Request) -> Answer:
        """``serve``'s answer as HTTP, for a host that is an HTTP server (``bakery-gateway serve``)."""
        scope = scope_for(request)
        exchange = _Exchange(request.body)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            # The application's middleware answers every error; this is the last line behind it.
            request_id = _request_id(scope)
            logger.exception("unhandled error", extra={"correlation_id": request_id})
            return problem_response(InternalError(), request_id)
        body = b"".join(exchange.body)
        if fits_in_lambda_response(exchange.status, exchange.headers, body):
            return exchange.status, exchange.headers, body
        request_id = _request_id(scope)
        logger.warning("answer too large for Lambda", extra={"correlation_id": request_id})
        return problem_response(response_too_large(None), request_id)


def unreadable_event() -> Response:
    """The 500 problem for an event that cannot be read into a request: API Gateway sends none such
    (a body that is not base64, an authorizer context without an identity), so it is a fault of ours."""
    request_id = request_id_for(None)
    logger.exception("unreadable event", extra={"correlation_id": request_id})
    return lambda_response(*problem_response(InternalError(), request_id))


class _Exchange:
    """One ASGI request/response exchange, held in memory (a Lambda response is never streamed)."""

    def __init__(self, body: bytes) -> None:
        self._request: Message | None = {"type": "http.request", "body": body, "more_body": False}
        self._done = asyncio.Event()
        self.status = 500
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []

    async def receive(self) -> Message:
        if self._request is not None:
            message, self._request = self._request, None
            return message
        await self._done.wait()  # after the answer: the client is gone
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._done.set()


def _request_id(scope: Mapping[str, Any]) -> str:
    """The id the application's middleware gave the request, else a new one."""
    return str(scope.get("state", {}).get("request_id") or request_id_for(None))
