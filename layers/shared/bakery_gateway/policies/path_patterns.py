"""Path patterns for configuration: ``*`` matches one path segment, ``**`` any number of them.

One syntax for every setting that names routes (rate-limit rules, policy exemptions, demo guard
rails): ``/api/v1/tenants/*`` is a tenant itself, ``/api/v1/tenants/*/billing/**`` anything under a
tenant's billing, ``/api/v1/tenants/*/billing**`` the billing route and anything under it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bakery_gateway.settings import BlockedOperation


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*)", pattern)
    translated = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.compile(translated)


def path_matches(path: str, pattern: str) -> bool:
    return compile_pattern(pattern).fullmatch(path) is not None


def operation_matches(operation: BlockedOperation, method: str, path: str) -> bool:
    """Whether a request is one of a configured "METHODS pattern" operation ("*": every method)."""
    return ("*" in operation.methods or method in operation.methods) and path_matches(path, operation.pattern)
