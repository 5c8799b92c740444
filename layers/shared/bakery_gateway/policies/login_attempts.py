"""Login and registration attempts: which requests are one, and which accounts they name.

Login throttling (docs/policies.md) limits attempts per address and per account name. Both must hold
whatever the spelling: of the route (a trailing slash, the tenant-scoped form
``/api/v1/tenants/{id}/auth/login``, a token-carrying request through the catch-all route) and of
the name (case, Unicode compatibility forms, surrounding white space, JSON or a form body). A body
is read both ways, JSON and ``application/x-www-form-urlencoded``, whatever its declared type: a
lenient auth service may read either, so every account either reading names is counted.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qs

from bakery_gateway import bounded_json
from bakery_gateway.api.routes import LOGIN_PATHS
from bakery_gateway.errors import BadRequestError, JsonInputError, PayloadTooLargeError

LOGIN_NAME_FIELDS: Final = ("email", "username", "login")
# A registration names an email and a username; more accounts than this in one attempt is a probe.
MAX_LOGIN_NAMES: Final = 3
MAX_NAME_LENGTH: Final = 256


def is_login(method: str, unscoped_path: str) -> bool:
    """Whether a request (method already normalised; its path decoded, without a tenant scope or a
    trailing slash: ``Route.unscoped_path``) is a login or a registration."""
    return method == "POST" and unscoped_path in LOGIN_PATHS


def login_names(body: bytes, content_type: str | None) -> tuple[str, ...]:
    """The distinct account names an attempt's body names, normalised (``normalized_name``).

    ``PayloadTooLargeError`` above ``bounded_json.REQUEST_BODY_BYTES``; ``BadRequestError`` for a
    body declared JSON (or undeclared, which FastAPI reads as JSON) that is not, and for one that
    names more than ``MAX_LOGIN_NAMES`` accounts.
    """
    limit = bounded_json.REQUEST_BODY_BYTES
    if len(body) > limit:
        raise PayloadTooLargeError(
            f"login and registration bodies are limited to {limit} bytes", extensions={"max_bytes": limit}
        )
    if not body.strip():
        return ()  # nothing to count: the auth service refuses it
    values: list[object] = []
    try:
        document = bounded_json.loads(body, max_bytes=limit)
    except JsonInputError as error:
        if _declares_json(content_type):
            raise BadRequestError(f"the body is not readable JSON ({error})") from None
    else:
        if isinstance(document, dict):
            values += [document.get(field) for field in LOGIN_NAME_FIELDS]
    form = parse_qs(body.decode("utf-8", "replace"))
    values += [value for field in LOGIN_NAME_FIELDS for value in form.get(field, ())]
    names = tuple(dict.fromkeys(_names(values)))
    if len(names) > MAX_LOGIN_NAMES:
        raise BadRequestError(f"a login or registration names at most {MAX_LOGIN_NAMES} accounts")
    return names


def normalized_name(value: str) -> str:
    """One spelling per account name: NFKC, without surrounding white space, case-folded."""
    return unicodedata.normalize("NFKC", value).strip().casefold()[:MAX_NAME_LENGTH]


def _names(values: Iterable[object]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str) and (name := normalized_name(value)):
            yield name


def _declares_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return not media_type or media_type == "application/json" or media_type.endswith("+json")
