"""How settings are declared and read: once per variable, by one reader, from the layer below."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass

import pytest

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import Settings, every_setting
from bakery_gateway.settings.declarations import Whole, read_settings, setting


def test_each_variable_is_declared_once() -> None:
    declarations: dict[str, set[int]] = defaultdict(set)
    for declaration in every_setting():
        declarations[declaration.variable].add(id(declaration))

    assert {variable for variable, found in declarations.items() if len(found) > 1} == set()


def test_the_user_and_the_anonymous_address_budgets_share_one_declaration_of_their_variables() -> None:
    budgets = [d for d in every_setting() if d.variable == names.RATE_LIMIT_REQUESTS]

    assert len(budgets) == 2  # read for both budgets
    assert budgets[0] is budgets[1]


@dataclass(frozen=True, slots=True)
class _Undeclared:
    declared: int = setting("DECLARED", default=1, parse=Whole())
    plain: int = 2


def test_a_settings_field_without_a_declaration_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match=r"_Undeclared\.plain declares no setting"):
        read_settings(_Undeclared, {})


@dataclass(frozen=True, slots=True)
class _Pair:
    low: int = setting("LOW", default=1, parse=Whole())
    high: int = setting("HIGH", default=2, parse=Whole())

    def validate(self) -> None:
        if self.low > self.high:
            raise ConfigurationError("LOW: above HIGH")


def test_a_settings_class_validates_the_values_read_across_its_fields() -> None:
    assert read_settings(_Pair, {"LOW": "3", "HIGH": "4"}) == _Pair(3, 4)
    with pytest.raises(ConfigurationError, match=r"^LOW: above HIGH"):
        read_settings(_Pair, {"LOW": "5"})


@pytest.mark.parametrize("text", [",", " , ,"])
def test_a_list_of_separators_only_takes_the_default(text: str) -> None:
    settings = Settings.from_environ({names.JWT_ALGORITHM: text, names.POLICY_EXEMPT_PATHS: text})

    assert settings.jwt.algorithms == Settings().jwt.algorithms == ("RS256",)
    assert settings.policy.exempt_paths == Settings().policy.exempt_paths


def test_a_mutable_default_is_not_shared_between_settings_objects() -> None:
    first, second = Settings(), Settings()

    assert first.service_urls == second.service_urls == {}
    assert first.service_urls is not second.service_urls


# The gateway's modules that importing the settings may load: the package itself (and what its
# __init__ imports), the names, the errors, and the platform's quotas (a leaf of AWS's figures).
SETTINGS_MAY_IMPORT = {
    "bakery_gateway",
    "bakery_gateway.cold_start",
    "bakery_gateway.constants",
    "bakery_gateway.errors",
    "bakery_gateway.api",
    "bakery_gateway.api.platform_limits",
}


def test_the_settings_import_nothing_of_the_gateway_above_them() -> None:
    code = "import json, sys, bakery_gateway.settings; print(json.dumps(sorted(sys.modules)))"

    loaded = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    modules: list[str] = [m for m in json.loads(loaded.stdout) if m.startswith("bakery_gateway")]

    assert {m for m in modules if not m.startswith("bakery_gateway.settings")} <= SETTINGS_MAY_IMPORT
