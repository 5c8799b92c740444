"""The README's configuration table agrees with the declarations: every setting is in it, every
name in it is a setting, and a default it states is the declared one."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from bakery_gateway import constants as names
from bakery_gateway.settings import every_setting

README = Path(__file__).resolve().parents[3] / "README.md"
DECLARED = {declaration.variable: declaration for declaration in every_setting()}
# API Gateway's CORS configuration: in the table, read by no function (tests/unit/template/test_template.py).
API_GATEWAY_VARIABLES = {names.CORS_ORIGINS, names.CORS_ALLOW_CREDENTIALS}
NO_VALUE = ("none", "unset")


def configuration_rows() -> list[tuple[list[str], list[str]]]:
    """Each row of the table under "## Configuration": its variable names (``{SERVICE}`` and
    ``*`` as wildcards) and its default column split at the commas."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 3:
            continue
        variables = [name.replace("{SERVICE}", "*") for name in re.findall(r"`([^`]+)`", cells[0])]
        rows.append((variables, [item.strip() for item in cells[1].split(",")]))
    return rows


def documented_names() -> list[str]:
    return [name for variables, _ in configuration_rows() for name in variables]


def test_the_table_is_found() -> None:
    assert len(configuration_rows()) > 30


@pytest.mark.parametrize("variable", sorted(DECLARED))
def test_every_setting_is_in_the_table(variable: str) -> None:
    assert any(fnmatch.fnmatchcase(variable, name) for name in documented_names())


@pytest.mark.parametrize("name", documented_names())
def test_every_name_in_the_table_is_a_setting(name: str) -> None:
    assert any(fnmatch.fnmatchcase(variable, name) for variable in {*DECLARED, *API_GATEWAY_VARIABLES})


def stated_defaults() -> list[tuple[str, str]]:
    """(variable, default) where a row names each variable and states as many defaults: a value in
    backticks, or none; prose ("OpenStreetMap's", "required") is not checked."""
    pairs = []
    for variables, defaults in configuration_rows():
        if len(variables) == len(defaults) and not any("*" in name for name in variables):
            pairs += [
                (variable, default)
                for variable, default in zip(variables, defaults, strict=True)
                if variable in DECLARED and (default.startswith("`") or default in NO_VALUE)
            ]
    return pairs


def test_most_defaults_are_stated_in_a_form_that_is_checked() -> None:
    assert len(stated_defaults()) > 40


@pytest.mark.parametrize(("variable", "default"), stated_defaults())
def test_a_default_the_table_states_is_the_declared_one(variable: str, default: str) -> None:
    declaration = DECLARED[variable]

    if default in NO_VALUE:
        assert not declaration.default
    else:
        assert declaration.read({variable: default.strip("`")}) == declaration.default
