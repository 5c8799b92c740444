"""Reads ``template.yaml``: the HTTP API's routes, its authorizer, its CORS rules and each function.

Intrinsic functions are resolved the way CloudFormation would for the values the local runtime needs.
A parameter's value comes from the environment variable the template wires it to (in the functions'
``Environment``), else from its ``Default`` — so one setting configures the deploy and the local run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bakery_gateway.api.cors import CorsPolicy

FUNCTION_TYPE = "AWS::Serverless::Function"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
NO_VALUE = object()


class TemplateError(Exception):
    """The template lacks something the local runtime needs, or uses what it cannot resolve."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    module: str  # importable module of the handler (same file Lambda loads from CodeUri)
    attribute: str
    timeout_seconds: float
    memory_mb: int


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str  # logical id
    identity_headers: tuple[str, ...]  # lower-case header names
    ttl_seconds: int
    identity_query_strings: tuple[str, ...] = ()  # query parameter names


# The route authorizer name SAM gives IAM authorization (SigV4), with ``EnableIamAuthorizer``.
IAM_AUTHORIZER = "AWS_IAM"


@dataclass(frozen=True)
class RouteSpec:
    method: str  # upper-case, or ANY
    path: str  # as in the template: /api/v1/{proxy+}
    function: str
    authorizer: str | None  # the Lambda authorizer's name; None for a public or an IAM route
    iam: bool = False  # Auth: {Authorizer: AWS_IAM}: callers sign with SigV4 (see bakery_local.iam)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpApiSpec:
    routes: tuple[RouteSpec, ...]
    authorizers: Mapping[str, AuthorizerSpec]
    cors: CorsPolicy | None
    stage: str = "$default"
    functions: Mapping[str, FunctionSpec] = field(default_factory=dict)


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (``!Ref``, ``!Sub``...) read as long-form dicts."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    # !Ref and !Condition have no "Fn::" in their long form.
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as stream:
        document = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path}: not a CloudFormation template")
    return document


class Resolver:
    """Resolves intrinsic functions against parameters and conditions."""

    def __init__(self, template: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        self._template = template
        self.parameters = _parameter_values(template, environ)
        self._conditions: dict[str, bool] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(argument)
            if name == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.condition(condition) else when_false)
            if name == "Fn::Split":
                delimiter, text = argument
                resolved = self.resolve(text)
                return resolved.split(delimiter) if resolved else [""]
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if name == "Fn::Join":
                delimiter, items = argument
                return delimiter.join(str(item) for item in self.resolve(items))
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::GetAtt":
                return {"GetAtt": argument}
            if name.startswith("Fn::"):
                raise TemplateError(f"{name} is not supported by the local runtime")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definition = self._template.get("Conditions", {}).get(name)
            if definition is None:
                raise TemplateError(f"condition {name} is not defined")
            self._conditions[name] = self._evaluate(definition)
        return self._conditions[name]

    def _evaluate(self, expression: Any) -> bool:
        ((name, argument),) = expression.items()
        if name == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return bool(str(left) == str(right))
        if name == "Fn::Not":
            return not self._evaluate(argument[0])
        if name == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if name == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        if name == "Condition":
            return self.condition(argument)
        raise TemplateError(f"{name} is not supported in conditions")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        pseudo = {"AWS::Region": "local", "AWS::AccountId": "000000000000", "AWS::Partition": "aws"}
        return pseudo.get(name, name)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            return str(self._ref(name.split(".")[0]))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)


def _parameter_values(template: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value: the environment variable wired to it, else its default."""
    wired: dict[str, str] = {}
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for variable, value in variables.items():
        if isinstance(value, dict) and set(value) == {"Ref"}:
            wired[value["Ref"]] = variable
    values: dict[str, Any] = {}
    for name, definition in template.get("Parameters", {}).items():
        variable = wired.get(name)
        if variable is not None and variable in environ:
            values[name] = environ[variable]
        else:
            values[name] = str(definition.get("Default", ""))
    return values


def read_http_api(template_path: Path, environ: Mapping[str, str] | None = None) -> HttpApiSpec:
    """The HTTP API of ``template_path`` as the local runtime serves it."""
    template = load_template(template_path)
    resolver = Resolver(template, os.environ if environ is None else environ)
    resources = template["Resources"]
    apis = [logical_id for logical_id, resource in resources.items() if resource.get("Type") == HTTP_API_TYPE]
    if len(apis) != 1:
        raise TemplateError(f"expected one {HTTP_API_TYPE}, found {len(apis)}")
    api_id = apis[0]
    api = resolver.resolve(resources[api_id].get("Properties", {}))
    globals_function = resolver.resolve(template.get("Globals", {}).get("Function", {}))
    functions = {
        logical_id: _function_spec(
            template_path.parent, logical_id, resolver.resolve(resource["Properties"]), globals_function
        )
        for logical_id, resource in resources.items()
        if resource.get("Type") == FUNCTION_TYPE
    }
    auth = api.get("Auth", {})
    authorizers = {
        name: _authorizer_spec(name, definition, functions)
        for name, definition in auth.get("Authorizers", {}).items()
    }
    default_authorizer = auth.get("DefaultAuthorizer")
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        for event in resolver.resolve(resource.get("Properties", {})).get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event.get("Properties", {})
            authorizer = properties.get("Auth", {}).get("Authorizer", default_authorizer)
            routes.append(
                RouteSpec(
                    method=str(properties.get("Method", "ANY"))
                    .upper()
                    .replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY"),
                    path=properties.get("Path", "/$default"),
                    function=logical_id,
                    authorizer=None if authorizer in (None, "NONE", IAM_AUTHORIZER) else authorizer,
                    iam=authorizer == IAM_AUTHORIZER,
                )
            )
    cors = api.get("CorsConfiguration")
    return HttpApiSpec(
        routes=tuple(routes),
        authorizers=authorizers,
        cors=_cors_spec(cors) if isinstance(cors, dict) else None,
        stage=str(api.get("StageName", "$default")),
        functions=functions,
    )


def _function_spec(
    root: Path, logical_id: str, properties: Mapping[str, Any], defaults: Mapping[str, Any]
) -> FunctionSpec:
    code_uri = Path(str(properties.get("CodeUri", defaults.get("CodeUri", "."))))
    handler = str(properties.get("Handler", defaults.get("Handler", "")))
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise TemplateError(f"{logical_id}: Handler {handler!r} is not module.function")
    parts = [part for part in code_uri.parts if part not in (".", "")]
    if not parts or parts[0] != "functions":
        raise TemplateError(f"{logical_id}: CodeUri {code_uri} is not under functions/")
    module = ".".join(["bakery_functions", *parts[1:], module_name])
    if not (root / code_uri / f"{module_name.replace('.', '/')}.py").exists():
        raise TemplateError(f"{logical_id}: {code_uri / module_name}.py does not exist")
    return FunctionSpec(
        logical_id=logical_id,
        module=module,
        attribute=attribute,
        timeout_seconds=float(properties.get("Timeout", defaults.get("Timeout", 3))),
        memory_mb=int(properties.get("MemorySize", defaults.get("MemorySize", 128))),
    )


def _authorizer_spec(
    name: str, definition: Mapping[str, Any], functions: Mapping[str, Any]
) -> AuthorizerSpec:
    """An HTTP API authorizer. Its function is ``!GetAtt <Function>.Arn`` or an alias of it,
    ``!Sub ${<Function>.Arn}:<alias>`` (resolved: ``<Function>:<alias>``); locally a function has one
    version, which every alias names."""
    arn = definition.get("FunctionArn")
    function = arn["GetAtt"][0] if isinstance(arn, dict) and "GetAtt" in arn else arn
    if isinstance(function, str):
        function = function.split(":", 1)[0]
    if not isinstance(function, str) or function not in functions:
        raise TemplateError(
            f"authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn or"
            " !Sub ${<Function>.Arn}:<alias> of a function of the template"
        )
    identity = definition.get("Identity", {})
    return AuthorizerSpec(
        name=name,
        function=function,
        identity_headers=tuple(header.lower() for header in identity.get("Headers", [])),
        identity_query_strings=tuple(str(name) for name in identity.get("QueryStrings", [])),
        ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
    )


def _cors_spec(definition: Mapping[str, Any]) -> CorsPolicy:
    def strings(key: str) -> tuple[str, ...]:
        return tuple(str(item).strip() for item in definition.get(key, []) if str(item).strip())

    max_age = definition.get("MaxAge")
    return CorsPolicy(
        allow_origins=strings("AllowOrigins"),
        allow_headers=tuple(header.lower() for header in strings("AllowHeaders")),
        allow_methods=tuple(method.upper() for method in strings("AllowMethods")),
        expose_headers=strings("ExposeHeaders"),
        allow_credentials=str(definition.get("AllowCredentials", False)).lower() == "true",
        max_age=int(max_age) if max_age not in (None, "") else None,
    )
