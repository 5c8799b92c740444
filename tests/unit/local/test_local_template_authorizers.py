"""The local runtime finds an HTTP API authorizer's function whether the template names the
function or its alias (docs/local-runtime.md: locally, every alias names the one version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery_local.template import TemplateError, read_http_api

TEMPLATE = """
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Tokens
        Authorizers:
          Tokens:
            FunctionArn: {function_arn}
            Identity:
              Headers: [Authorization]
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/authorizer/
      Handler: app.handler
      AutoPublishAlias: live
"""


def write_template(root: Path, function_arn: str) -> Path:
    (root / "functions" / "authorizer").mkdir(parents=True)
    (root / "functions" / "authorizer" / "app.py").write_text("def handler(event, context): ...\n")
    path = root / "template.yaml"
    path.write_text(TEMPLATE.format(function_arn=function_arn))
    return path


@pytest.mark.parametrize(
    "function_arn", ["!GetAtt AuthorizerFunction.Arn", "!Sub ${AuthorizerFunction.Arn}:live"]
)
def test_an_authorizer_invokes_its_function_whether_named_by_its_arn_or_its_alias(
    tmp_path: Path, function_arn: str
) -> None:
    api = read_http_api(write_template(tmp_path, function_arn), environ={})

    assert api.authorizers["Tokens"].function == "AuthorizerFunction"


def test_an_authorizer_whose_function_is_not_in_the_template_is_refused_by_name(tmp_path: Path) -> None:
    path = write_template(tmp_path, "arn:aws:lambda:eu-west-1:123456789012:function:elsewhere")

    with pytest.raises(TemplateError, match="authorizer Tokens: FunctionArn"):
        read_http_api(path, environ={})
