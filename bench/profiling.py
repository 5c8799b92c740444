"""Profiling (optional): cProfile of (a) and (b), own time by library and the functions (b) adds."""

from __future__ import annotations

import cProfile
import pstats
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arms import DIRECT, PROXY, RequestSetup
from timing import Arm

CATEGORIES = (
    ("bakery_gateway", "ours"),
    ("bakery_functions", "ours"),
    ("/functions/", "ours"),
    ("mangum", "Mangum"),
    ("fastapi", "FastAPI/Starlette"),
    ("starlette", "FastAPI/Starlette"),
    ("httpx", "httpx/httpcore/h11"),
    ("httpcore", "httpx/httpcore/h11"),
    ("/h11/", "httpx/httpcore/h11"),
    ("anyio", "anyio/sniffio"),
    ("sniffio", "anyio/sniffio"),
    ("redis", "redis"),
    ("aws_lambda_powertools", "powertools logger"),
    ("/logging/", "powertools logger"),
    ("prometheus_client", "prometheus_client"),
    ("asyncio", "asyncio"),
)


def category_of(filename: str) -> str:
    for marker, category in CATEGORIES:
        if marker in filename:
            return category
    return "C builtins" if filename == "~" else "other stdlib/libs"


ProfileKey = tuple[str, int, str]


@dataclass(frozen=True)
class Profile:
    """Own time (µs per call) and call count (per call) of each function over ``calls`` calls."""

    own_us: dict[ProfileKey, float]
    count: dict[ProfileKey, float]


def profile_arm(arm: Arm, calls: int) -> Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        arm.call()
    profiler.disable()
    raw: dict[ProfileKey, tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return Profile(
        own_us={key: row[2] / calls * 1e6 for key, row in raw.items()},
        count={key: row[1] / calls for key, row in raw.items()},
    )


def by_category(profile: Profile) -> dict[str, float]:
    totals: dict[str, float] = {}
    for (filename, _line, _name), own in profile.own_us.items():
        totals[category_of(filename)] = totals.get(category_of(filename), 0.0) + own
    return totals


def profile_lines(direct: Profile, proxy: Profile, calls: int, top: int = 10) -> list[str]:
    """Own time per call by category for (a) and (b), and the functions (b) adds the most own time in."""
    direct_totals, proxy_totals = by_category(direct), by_category(proxy)
    lines = [
        f"cProfile, {calls} calls of each arm; own time in µs per call. The profiler inflates code that"
        " makes many small calls, so read the shares, not the absolute figures.",
        "",
        "| category | (a) direct | (b) proxy | (b) - (a) |",
        "|---|---:|---:|---:|",
    ]
    for category in sorted(proxy_totals, key=lambda name: direct_totals.get(name, 0.0) - proxy_totals[name]):
        before, after = direct_totals.get(category, 0.0), proxy_totals[category]
        lines.append(f"| {category} | {before:.1f} | {after:.1f} | {after - before:+.1f} |")
    lines.append(f"| total | {sum(direct_totals.values()):.1f} | {sum(proxy_totals.values()):.1f} | |")
    lines += [
        "",
        "| function: own time (b) - (a) | category | µs/call | calls/request |",
        "|---|---|---:|---:|",
    ]
    added = {key: own - direct.own_us.get(key, 0.0) for key, own in proxy.own_us.items()}
    for key in sorted(added, key=lambda item: -added[item])[:top]:
        filename, line, name = key
        where = name if filename == "~" else f"{Path(filename).name}:{line} {name}"
        extra_calls = proxy.count[key] - direct.count.get(key, 0.0)
        lines.append(f"| `{where}` | {category_of(filename)} | {added[key]:.1f} | {extra_calls:+.1f} |")
    return lines


def profile_requests(setup: RequestSetup, calls: int) -> list[str]:
    direct, proxy = (next(arm for arm in setup.arms if arm.name == name) for name in (DIRECT, PROXY))
    return profile_lines(profile_arm(direct, calls), profile_arm(proxy, calls), calls)
