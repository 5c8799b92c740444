"""The library's imports point down only: it never depends on the Lambda handlers (``functions/``,
installed as ``bakery_functions``) nor on the development emulator (``local/``, ``bakery_local``), and
the functions' wiring (``assembly``) is imported by the hosts alone.

Read from the source with ``ast``: an import inside a function counts as much as one at the top, and
so does a module named in a string (``importlib.import_module("bakery_functions.proxy.app")``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import bakery_gateway

LIBRARY = Path(bakery_gateway.__file__).parent
HOSTS = ("bakery_functions", "bakery_local")
# The packages that may build the functions: the hosts of the library's own (serve) and the wiring.
ASSEMBLY_USERS = ("bakery_gateway.serve", "bakery_gateway.assembly")
MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def module_of(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, wherever it does, and every string that is a module path."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MODULE_NAME.fullmatch(node.value)
        ):
            yield node.value


def imports_of(package: str) -> dict[str, set[str]]:
    """The library's modules that import ``package`` or a module in it, with what they import."""
    found: dict[str, set[str]] = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        names = {name for name in imported_names(path) if name == package or name.startswith(f"{package}.")}
        if names:
            found[module_of(path)] = names
    return found


def test_the_library_imports_neither_the_handlers_nor_the_local_runtime() -> None:
    offending = {host: imports_of(host) for host in HOSTS}

    assert offending == {host: {} for host in HOSTS}


def test_only_serve_builds_the_functions_from_the_library() -> None:
    users = imports_of("bakery_gateway.assembly")

    assert {module for module in users if not module.startswith(ASSEMBLY_USERS)} == set()
    assert any(module.startswith("bakery_gateway.serve") for module in users)  # the scan sees imports
