"""Typed reads of an environment mapping for ``settings``: every failure names its variable."""

from __future__ import annotations

import math
from collections.abc import Mapping

from bakery_gateway.errors import ConfigurationError


class EnvironmentReader:
    """Typed reads of one environment mapping; every failure names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def csv(self, name: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in (self.text(name) or "").split(",") if part.strip())

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = (self.text(name) or default).upper()
        if value not in choices:
            raise ConfigurationError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(f"{name}: {value!r} is not a boolean (true/false)")

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigurationError(f"{name}: {value!r} is not a whole number") from None
        self._check_range(name, number, minimum, maximum)
        return number

    def number(
        self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigurationError(f"{name}: {value!r} is not a number") from None
        if not math.isfinite(number):  # "nan" would pass every range check, and fail later
            raise ConfigurationError(f"{name}: {value!r} is not a finite number")
        self._check_range(name, number, minimum, maximum)
        return number

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or len(value.split("/", 3)[2]) == 0:
            raise ConfigurationError(f"{name}: {value!r} is not an http(s) URL")
        return value.rstrip("/")

    @staticmethod
    def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and number < minimum:
            raise ConfigurationError(f"{name}: {number} is below the minimum {minimum}")
        if maximum is not None and number > maximum:
            raise ConfigurationError(f"{name}: {number} is above the maximum {maximum}")
