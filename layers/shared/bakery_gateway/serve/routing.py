"""HTTP API route selection: the most specific path wins, then an explicit method over ANY.

Generic over the route's type: ``serve`` selects among ``api.routes.HTTP_ROUTES``, the local runtime
among the routes it read from a template (``bakery_local.template.RouteSpec``); both select alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class RouteLike(Protocol):
    @property
    def method(self) -> str: ...  # upper case, or ANY

    @property
    def path(self) -> str: ...  # a pattern: /api/v1/{proxy+}


RouteT = TypeVar("RouteT", bound=RouteLike)


@dataclass(frozen=True)
class RouteMatch(Generic[RouteT]):
    route: RouteT
    path_parameters: dict[str, str]


class RouteTable(Generic[RouteT]):
    def __init__(self, routes: tuple[RouteT, ...]) -> None:
        compiled = [(_pattern(route.path), route) for route in routes]
        # Literal segments before parameters before greedy ones, as API Gateway prioritises.
        compiled.sort(key=lambda item: _specificity(item[1]))
        self._routes = compiled

    def match(self, method: str, path: str) -> RouteMatch[RouteT] | None:
        for pattern, route in self._routes:
            if route.method not in (method, "ANY"):
                continue
            found = pattern.fullmatch(path)
            if found:
                return RouteMatch(route, {k: v for k, v in found.groupdict().items() if v is not None})
        return None

    def allows_path(self, path: str) -> bool:
        return any(pattern.fullmatch(path) for pattern, _ in self._routes)


def _pattern(path: str) -> re.Pattern[str]:
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{_group(segment[1:-2])}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{_group(segment[1:-1])}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts))


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _specificity(route: RouteLike) -> tuple[int, int, int]:
    segments = route.path.strip("/").split("/")
    greedy = int(any(segment.endswith("+}") for segment in segments))
    literal = sum(1 for segment in segments if not segment.startswith("{"))
    return (greedy, -literal, int(route.method == "ANY"))
