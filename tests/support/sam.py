"""template.yaml read by the SAM tools themselves, offline: the SAM transform (what CloudFormation
deploys) and ``sam local start-api``'s routes. Both run in the SAM CLI's virtualenv ``.venv-sam``
(``make venv``) through ``tests/support/sam_runner.py``; no AWS account, no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bakery_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
RUNNER = Path(__file__).with_name("sam_runner.py")
# Where `sam package` would have uploaded the code: the translator takes packaged templates only.
ARTIFACT_BUCKET = "bakery-gateway-artifacts"
REGION = "eu-west-1"


def sam_missing_reason() -> str | None:
    """Why the SAM tools cannot run here, or None. CI (``CI`` set) has them: there a missing
    ``.venv-sam`` fails the tests instead of skipping them."""
    if SAM_PYTHON.exists() or os.environ.get("CI"):
        return None
    return f"{SAM_PYTHON} is missing: `make venv` creates it"


def packaged(uploads: Mapping[str, str] | None = None) -> dict[str, Any]:
    """template.yaml as ``sam package`` leaves it: each local ``CodeUri``/``ContentUri`` an S3 object
    and each nested stack's ``Location`` an S3 URL. ``sam package`` names an object after its content:
    ``uploads`` gives a resource's object another key, as a change of its code would."""
    template = load_template(TEMPLATE)
    keys = {logical_id: f"{logical_id}.zip" for logical_id in template["Resources"]} | dict(uploads or {})
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://{ARTIFACT_BUCKET}/{keys[logical_id]}"
        if resource["Type"] == "AWS::Serverless::Application" and isinstance(properties.get("Location"), str):
            properties["Location"] = (
                f"https://{ARTIFACT_BUCKET}.s3.{REGION}.amazonaws.com/{logical_id}.template"
            )
    return template


def transform(jobs: Sequence[tuple[Mapping[str, Any], Mapping[str, str]]]) -> list[dict[str, Any]]:
    """The CloudFormation template SAM makes of each (packaged template, parameter values) - the
    parameters not given keep their defaults - in one run of the translator."""
    request = [{"template": template, "parameters": dict(parameters)} for template, parameters in jobs]
    result: list[dict[str, Any]] = _run(["transform"], stdin=json.dumps(request))
    return result


def local_routes() -> list[dict[str, Any]]:
    """The HTTP API routes ``sam local start-api`` serves from template.yaml, each with its function
    and its authorizer's name and function (None when it runs the route without one)."""
    routes: list[dict[str, Any]] = _run(["local-routes", str(TEMPLATE)])
    return routes


def _run(arguments: list[str], stdin: str = "") -> Any:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "AWS_DEFAULT_REGION": REGION,
        # Nothing of this machine's AWS set-up: no profile, no credentials, no instance metadata.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
    }
    completed = subprocess.run(  # noqa: S603 - our own script, with the SAM CLI's interpreter
        [str(SAM_PYTHON), str(RUNNER), *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise AssertionError(
            f"{RUNNER.name} {arguments[0]} failed: {completed.stderr.strip().splitlines()[-1:]}"
        )
    return json.loads(completed.stdout)
