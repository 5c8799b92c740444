"""Run by the SAM CLI's own Python (``.venv-sam``), never imported by the tests: ``tests.support.sam``
starts it. Standard library at the top only, SAM's packages inside the commands: the app's
virtualenv has neither (aws-sam-translator's pins clash with the app's).

``transform``: stdin ``[{"template": <a packaged SAM template>, "parameters": {name: value}}, ...]``,
stdout the CloudFormation template of each (a JSON list), made by aws-sam-translator, the
translator the SAM CLI ships (CloudFormation's own transform is the hosted copy of it).

``local-routes TEMPLATE``: stdout the HTTP API routes as ``sam local start-api`` reads them from the
template (a JSON list of ``{"path", "methods", "function", "authorizer", "authorizer_function"}``).

No AWS account either way: the region comes from ``AWS_DEFAULT_REGION``, no credentials are read,
and the one call the translator could make to AWS (IAM's list of managed policies) fails instead.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any


class _NoManagedPolicyNames:
    """The translator asks IAM for the managed policies' ARNs only when a ``Policies`` entry names one;
    offline it cannot, so such a template fails here, saying why."""

    def load(self) -> dict[str, str]:
        raise RuntimeError(
            "a Policies entry names an AWS managed policy: give its ARN instead (no IAM to ask offline)"
        )


def transform(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from samtranslator.translator.transform import transform as sam_transform

    # The translator changes the template it is given: each job gets its own copy.
    return [
        sam_transform(copy.deepcopy(job["template"]), dict(job["parameters"]), _NoManagedPolicyNames())
        for job in jobs
    ]


def local_routes(template: str) -> list[dict[str, Any]]:
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    stacks, _ = SamLocalStackProvider.get_stacks(template)
    return [
        {
            "path": route.path,
            "methods": sorted(route.methods),
            "function": route.function_name,
            "authorizer": route.authorizer_name,
            "authorizer_function": route.authorizer_object.lambda_name if route.authorizer_object else None,
        }
        for route in ApiProvider(stacks).routes
    ]


def main() -> None:
    command, *arguments = sys.argv[1:]
    if command == "transform":
        result: Any = transform(json.load(sys.stdin))
    elif command == "local-routes":
        (template,) = arguments
        result = local_routes(template)
    else:
        raise SystemExit(f"unknown command {command!r}: transform or local-routes")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
