"""The local runtime reads the intrinsic functions template.yaml's conditions use (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakery_local.template import Resolver, load_template

TEMPLATE = """
Parameters:
  CreateNetwork: {Type: String, Default: "true"}
  ExistingVpcId: {Type: String, Default: ""}
  SecretId: {Type: String, Default: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}
Conditions:
  NetworkCreated: !Equals [!Ref CreateNetwork, "true"]
  HasExistingVpc: !And [!Not [!Condition NetworkCreated], !Not [!Equals [!Ref ExistingVpcId, ""]]]
  InVpc: !Or [!Condition NetworkCreated, !Condition HasExistingVpc]
  SecretIsArn: !Equals [!Select [0, !Split [":", !Ref SecretId]], arn]
Resources: {}
"""


@pytest.fixture
def template(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return load_template(path)


def test_a_short_form_condition_reference_is_evaluated(template: dict[str, Any]) -> None:
    resolver = Resolver(template, environ={})

    assert (resolver.condition("InVpc"), resolver.condition("HasExistingVpc")) == (True, False)


def test_select_picks_an_item_of_a_resolved_list(template: dict[str, Any]) -> None:
    assert Resolver(template, environ={}).condition("SecretIsArn") is True
