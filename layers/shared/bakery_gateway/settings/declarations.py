"""Each setting declared once: its variable, how its text is read, its default and its limits.

A settings class is a frozen dataclass whose every field carries its declaration
(``port: int = setting(names.REDIS_PORT, default=6379, parse=Whole(minimum=1, maximum=65535))``)
or is a group of settings (``redis: RedisSettings = group(RedisSettings)``). ``read_settings``
walks the fields, reads each declaration from the environment, and builds the object; the field's
default *is* the declaration's, so ``Settings()`` and ``Settings.from_environ({})`` are equal by
construction. An unset or blank variable takes the default. Every failure is a
``ConfigurationError`` whose message starts with the variable's name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar, cast

from bakery_gateway.errors import ConfigurationError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Group = TypeVar("Group", bound="DataclassInstance")

# (text, variable) -> value: the text is stripped and not blank; a mistake raises ConfigurationError
# naming the variable. None means the text holds no value (a list of separators): the default applies.
Parser = Callable[[str, str], T | None]

DECLARATION: Final = "bakery_gateway.setting"
GROUP: Final = "bakery_gateway.settings_group"


class Declaration(Protocol[T_co]):
    """What a field declares: its default, how it is read, and the variables it reads."""

    @property
    def default(self) -> T_co: ...

    @property
    def settings(self) -> tuple[Setting[Any], ...]: ...

    def read(self, environ: Mapping[str, str]) -> T_co: ...


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One environment variable: its name, the value when unset or blank, and its parser."""

    variable: str
    default: T
    parse: Parser[T]

    @property
    def settings(self) -> tuple[Setting[Any], ...]:
        return (self,)

    def read(self, environ: Mapping[str, str]) -> T:
        text = environ.get(self.variable, "").strip()
        if not text:
            return self.default
        value = self.parse(text, self.variable)
        return self.default if value is None else value


def declared(declaration: Declaration[T], *, repr: bool = True) -> T:
    """A dataclass field read from the environment by ``declaration``, defaulting to its default."""
    default = declaration.default
    metadata = {DECLARATION: declaration}
    if isinstance(default, dict):  # a mutable default: each object gets its own copy
        return cast(T, field(default_factory=lambda: dict(default), metadata=metadata, repr=repr))
    return field(default=default, metadata=metadata, repr=repr)


def setting(variable: str, *, default: T, parse: Parser[T], repr: bool = True) -> T:
    """A field read from one variable: ``declared(Setting(variable, default, parse))``."""
    return declared(Setting(variable, default, parse), repr=repr)


def group(kind: type[Group]) -> Group:
    """A field holding a group of settings (itself a settings class), read with its parent."""
    return field(default_factory=kind, metadata={GROUP: kind})


def read_settings(kind: type[Group], environ: Mapping[str, str]) -> Group:
    """An object of the settings class ``kind`` read from ``environ``: each field from its
    declaration, each group in turn; then the class's ``validate()`` (rules across fields), if any."""
    values: dict[str, Any] = {}
    for item in fields(kind):
        if DECLARATION in item.metadata:
            values[item.name] = item.metadata[DECLARATION].read(environ)
        elif GROUP in item.metadata:
            values[item.name] = read_settings(item.metadata[GROUP], environ)
        else:
            raise TypeError(f"{kind.__name__}.{item.name} declares no setting")
    settings = kind(**values)
    validate: Callable[[], None] | None = getattr(settings, "validate", None)
    if validate is not None:
        validate()
    return settings


def declarations(kind: type[DataclassInstance]) -> Iterator[Setting[Any]]:
    """Every variable a settings class reads (its groups' too), as declared."""
    for item in fields(kind):
        if DECLARATION in item.metadata:
            yield from item.metadata[DECLARATION].settings
        elif GROUP in item.metadata:
            yield from declarations(item.metadata[GROUP])


# --- parsers ---------------------------------------------------------------------------------------
def text(value: str, variable: str) -> str:
    """The text itself (stripped)."""
    return value


@dataclass(frozen=True, slots=True)
class Text:
    """Text of at least ``minimum_length`` characters."""

    minimum_length: int

    def __call__(self, value: str, variable: str) -> str:
        if len(value) < self.minimum_length:
            raise ConfigurationError(f"{variable}: at least {self.minimum_length} characters")
        return value


@dataclass(frozen=True, slots=True)
class Whole:
    """A whole number within [minimum, maximum] (either bound optional)."""

    minimum: int | None = None
    maximum: int | None = None

    def __call__(self, value: str, variable: str) -> int:
        return _number(int, "a whole number", value, variable, self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class Number:
    """A finite number within [minimum, maximum] (either bound optional)."""

    minimum: float | None = None
    maximum: float | None = None

    def __call__(self, value: str, variable: str) -> float:
        return _number(float, "a number", value, variable, self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class OneOf:
    """One of ``choices``, in any case; the value is the choice as declared."""

    choices: tuple[str, ...]

    def __call__(self, value: str, variable: str) -> str:
        for choice in self.choices:
            if choice.upper() == value.upper():
                return choice
        allowed = ", ".join(choice.upper() for choice in self.choices)
        raise ConfigurationError(f"{variable}: {value.upper()!r} is not one of {allowed}")


def boolean(value: str, variable: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{variable}: {value!r} is not a boolean (true/false)")


def url(value: str, variable: str) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    if not value.startswith(("http://", "https://")) or len(value.split("/", 3)[2]) == 0:
        raise ConfigurationError(f"{variable}: {value!r} is not an http(s) URL")
    return value.rstrip("/")


def csv(value: str, variable: str) -> tuple[str, ...] | None:
    """Comma-separated entries; none at all (only commas) means the default."""
    return tuple(part.strip() for part in value.split(",") if part.strip()) or None


N = TypeVar("N", int, float)


def _number(
    kind: Callable[[str], N], what: str, value: str, variable: str, minimum: N | None, maximum: N | None
) -> N:
    try:
        number = kind(value)
    except ValueError:
        raise ConfigurationError(f"{variable}: {value!r} is not {what}") from None
    if not math.isfinite(number):  # "nan" would pass every range check, and fail later
        raise ConfigurationError(f"{variable}: {value!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{variable}: {number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigurationError(f"{variable}: {number} is above the maximum {maximum}")
    return number


# --- a family of variables ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UrlPerService:
    """One URL variable per service (``variable_of(service)``): the services whose variable is set."""

    variable_of: Callable[[str], str]
    services: tuple[str, ...]

    @property
    def default(self) -> dict[str, str]:
        return {}

    @property
    def settings(self) -> tuple[Setting[Any], ...]:
        return tuple(self._setting(service) for service in self.services)

    def read(self, environ: Mapping[str, str]) -> dict[str, str]:
        urls = {service: self._setting(service).read(environ) for service in self.services}
        return {service: address for service, address in urls.items() if address is not None}

    def _setting(self, service: str) -> Setting[str | None]:
        return Setting(self.variable_of(service), None, url)
