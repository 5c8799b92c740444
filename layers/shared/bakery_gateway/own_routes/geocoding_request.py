"""The body of ``POST /api/v1/geocode``: validated once, normalised, and fingerprinted for the cache.

A request asks either for free text (``address``) or for structured fields (Nominatim does not
combine the two), optionally with a ``language`` (BCP 47), ``country_codes`` (ISO 3166-1 alpha-2)
and a ``limit``. Every bad field is named in one 400 problem (``InvalidGeocodeRequestError``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.errors import InvalidGeocodeRequestError, JsonInputError

ADDRESS_FIELD = "address"
# Nominatim's structured-query parameters, named as Nominatim names them.
STRUCTURED_FIELDS = ("street", "city", "county", "state", "postalcode", "country")
LANGUAGE_FIELD = "language"
COUNTRY_CODES_FIELD = "country_codes"
LIMIT_FIELD = "limit"
KNOWN_FIELDS = frozenset(
    {ADDRESS_FIELD, *STRUCTURED_FIELDS, LANGUAGE_FIELD, COUNTRY_CODES_FIELD, LIMIT_FIELD}
)

DEFAULT_LIMIT = 5
MAX_LIMIT = 10  # Nominatim's ceiling is 40; a form validating an address needs a handful
MAX_TEXT_LENGTH = 255
MAX_COUNTRY_CODES = 30
# A language tag as browsers send it: a 2-3 letter language, then subtags (region, script, ...).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class GeocodeQuery:
    """One lookup, normalised: equal queries have equal fingerprints, whatever their spelling."""

    address: str | None = None
    structured: tuple[tuple[str, str], ...] = ()  # (field, value), in STRUCTURED_FIELDS order
    language: str | None = None
    country_codes: tuple[str, ...] = ()  # lower case, sorted, without repeats
    limit: int = DEFAULT_LIMIT

    def document(self) -> dict[str, Any]:
        """The query as the answer echoes it."""
        document: dict[str, Any] = {ADDRESS_FIELD: self.address} if self.address else dict(self.structured)
        if self.language:
            document[LANGUAGE_FIELD] = self.language
        if self.country_codes:
            document[COUNTRY_CODES_FIELD] = list(self.country_codes)
        document[LIMIT_FIELD] = self.limit
        return document

    def search_parameters(self) -> dict[str, str]:
        """Nominatim ``/search`` parameters (the language travels as ``Accept-Language``)."""
        parameters = {"format": "jsonv2", "addressdetails": "1", "limit": str(self.limit)}
        if self.address:
            parameters["q"] = self.address
        parameters.update(self.structured)
        if self.country_codes:
            parameters["countrycodes"] = ",".join(self.country_codes)
        return parameters

    def fingerprint(self) -> str:
        """The cache's name for this query: case and spacing do not change what Nominatim finds."""
        canonical = json.dumps(self.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.casefold().encode()).hexdigest()


def parse_geocode_request(body: bytes) -> GeocodeQuery:
    """The query in ``body``; an ``InvalidGeocodeRequestError`` naming every bad field otherwise."""
    try:
        document = bounded_json.loads(body, max_bytes=bounded_json.REQUEST_BODY_BYTES)
    except JsonInputError:
        document = None
    if not isinstance(document, dict):
        raise InvalidGeocodeRequestError({"body": "must be a JSON object"})
    problems: dict[str, str] = {str(name): "unknown field" for name in document if name not in KNOWN_FIELDS}
    address = _text(document, ADDRESS_FIELD, problems)
    structured = tuple(
        (name, value) for name in STRUCTURED_FIELDS if (value := _text(document, name, problems)) is not None
    )
    if address is not None and structured:
        problems[ADDRESS_FIELD] = "give either address or structured fields, not both"
    elif address is None and not structured and not any(name in problems for name in STRUCTURED_FIELDS):
        problems.setdefault(ADDRESS_FIELD, f"required, unless one of {', '.join(STRUCTURED_FIELDS)} is given")
    query = GeocodeQuery(
        address=address,
        structured=structured,
        language=_language(document.get(LANGUAGE_FIELD), problems),
        country_codes=_country_codes(document.get(COUNTRY_CODES_FIELD), problems),
        limit=_limit(document.get(LIMIT_FIELD, DEFAULT_LIMIT), problems),
    )
    if problems:
        raise InvalidGeocodeRequestError(problems)
    return query


def _text(document: dict[str, Any], name: str, problems: dict[str, str]) -> str | None:
    """A text field with its spacing collapsed; None when absent or blank."""
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems[name] = "must be a string"
        return None
    text = _SPACES.sub(" ", value).strip()
    if len(text) > MAX_TEXT_LENGTH:
        problems[name] = f"at most {MAX_TEXT_LENGTH} characters"
        return None
    return text or None


def _language(value: object, problems: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _LANGUAGE_TAG.fullmatch(value.strip()):
        problems[LANGUAGE_FIELD] = "must be a BCP 47 language tag such as 'es' or 'es-ES'"
        return None
    primary, *subtags = value.strip().split("-")
    # BCP 47's conventional case: language lower, two-letter region upper, the rest as written.
    return "-".join([primary.lower(), *(tag.upper() if len(tag) == 2 else tag for tag in subtags)])


def _country_codes(value: object, problems: dict[str, str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > MAX_COUNTRY_CODES
        or not all(isinstance(code, str) and _COUNTRY_CODE.fullmatch(code) for code in value)
    ):
        problems[COUNTRY_CODES_FIELD] = (
            f"must be a list of at most {MAX_COUNTRY_CODES} ISO 3166-1 alpha-2 codes such as 'es'"
        )
        return ()
    return tuple(sorted({code.lower() for code in value}))


def _limit(value: object, problems: dict[str, str]) -> int:
    # bool is an int in Python; true is not a limit.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        problems[LIMIT_FIELD] = f"must be a whole number from 1 to {MAX_LIMIT}"
        return DEFAULT_LIMIT
    return value
