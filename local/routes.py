"""HTTP API route selection: the most specific path wins, then an explicit method over ANY."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bakery_local.template import RouteSpec


@dataclass(frozen=True)
class RouteMatch:
    route: RouteSpec
    path_parameters: dict[str, str]


class RouteTable:
    def __init__(self, routes: tuple[RouteSpec, ...]) -> None:
        compiled = [(_pattern(route.path), route) for route in routes]
        # Literal segments before parameters before greedy ones, as API Gateway prioritises.
        compiled.sort(key=lambda item: _specificity(item[1]))
        self._routes = compiled

    def match(self, method: str, path: str) -> RouteMatch | None:
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


def _specificity(route: RouteSpec) -> tuple[int, int, int]:
    segments = route.path.strip("/").split("/")
    greedy = int(any(segment.endswith("+}") for segment in segments))
    literal = sum(1 for segment in segments if not segment.startswith("{"))
    return (greedy, -literal, int(route.method == "ANY"))
