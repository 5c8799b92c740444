"""Reads ``infra/monitoring.yaml`` (the nested alarms-and-dashboard stack) and resolves its values.

Only what that template uses is resolved: ``Ref`` to a parameter or a resource and ``Fn::Sub`` with a
string (``${Name}``, ``${Resource.Attribute}``, ``${AWS::Region}``). Anything else is an error, so a
new intrinsic in the template fails the tests loudly instead of being passed through unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bakery_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
MONITORING = ROOT / "infra" / "monitoring.yaml"
ALARM_TYPE = "AWS::CloudWatch::Alarm"
FUNCTION_TYPE = "AWS::Serverless::Function"
# The nested stack's function parameters are named {stem}FunctionName.
FUNCTION_PARAMETER_STEMS = ("Authorizer", "Proxy", "Policy", "Fanout", "WebSocket")

# ${Name} or ${Resource.Attribute}; ${!Literal} is CloudFormation's escape for a literal "${".
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def load_monitoring() -> dict[str, Any]:
    return load_template(MONITORING)


def load_parent() -> dict[str, Any]:
    return load_template(TEMPLATE)


def alarms(monitoring: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each alarm's properties, by logical id."""
    return {
        name: resource["Properties"]
        for name, resource in monitoring["Resources"].items()
        if resource["Type"] == ALARM_TYPE
    }


def sub_variables(text: str) -> set[str]:
    """The names a ``Fn::Sub`` string substitutes."""
    return set(_SUB_VARIABLE.findall(text))


def resolve(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with every ``Ref`` and ``Fn::Sub`` replaced from ``values`` (names as in the template)."""
    if isinstance(value, list):
        return [resolve(item, values) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return values[value["Ref"]]
    if set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        if not isinstance(text, str):
            raise ValueError(f"Fn::Sub with a variable map is not resolved here: {text!r}")
        substituted = _SUB_VARIABLE.sub(lambda match: str(values[match.group(1)]), text)
        return substituted.replace("${!", "${")
    if any(key == "Ref" or key.startswith("Fn::") for key in value):
        raise ValueError(f"intrinsic function not resolved here: {value!r}")
    return {key: resolve(item, values) for key, item in value.items()}


def parameter_defaults(monitoring: Mapping[str, Any]) -> dict[str, Any]:
    """Each parameter's default, a Number's as a number."""
    defaults: dict[str, Any] = {}
    for name, parameter in monitoring["Parameters"].items():
        if "Default" not in parameter:
            continue
        default = parameter["Default"]
        defaults[name] = float(default) if parameter["Type"] == "Number" else default
    return defaults
