"""Safe deployments (docs/deploy.md), checked on what SAM makes of template.yaml: the proxy and the
authorizer publish versions behind their alias "live", API Gateway invokes the alias, CodeDeploy
moves it as DeploymentType says and rolls back on the monitoring stack's alarms, which watch the
new version; provisioned concurrency only when asked for. The transform is the SAM CLI's own
translator, offline (tests/support/sam.py).
"""

from __future__ import annotations

import graphlib
import re
import tomllib
from typing import Any

import pytest

from bakery_local.template import Resolver, read_http_api
from tests.support import sam
from tests.support.monitoring_stack import (
    ROOT,
    TEMPLATE,
    alarms,
    load_monitoring,
    parameter_defaults,
    resolve,
    sub_variables,
)

_missing = sam.sam_missing_reason()
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")

ALIAS = "live"
STACK_NAME = "bakery-gateway-prod"
# The functions deployed gradually, and the stem their nested-stack parameters and alarms are named by.
FRONT_DOOR = {"ProxyFunction": "Proxy", "AuthorizerFunction": "Authorizer"}
ALIAS_TYPE = "AWS::Lambda::Alias"
GROUP_TYPE = "AWS::CodeDeploy::DeploymentGroup"

# Parameter values the template is transformed with (the others keep their defaults).
DEFAULTS: dict[str, str] = {}
CANARY = {
    "DeploymentType": "Canary10Percent10Minutes",
    "ProxyProvisionedConcurrency": "5",
    "AuthorizerProvisionedConcurrency": "2",
}
LINEAR = {"DeploymentType": "Linear10PercentEvery1Minute"}
NO_MONITORING = {"EnableMonitoring": "false"}
PARAMETER_SETS = {"defaults": DEFAULTS, "canary": CANARY, "linear": LINEAR, "no monitoring": NO_MONITORING}
# A build whose only change is in the shared library (layers/shared/): where the gateway's logic lives.
NEW_LIBRARY = "new library"


@pytest.fixture(scope="module")
def transformed() -> dict[str, dict[str, Any]]:
    """SAM's CloudFormation template for each parameter set by the set's name, and for NEW_LIBRARY."""
    template = sam.packaged()
    jobs = [(template, parameters) for parameters in PARAMETER_SETS.values()]
    jobs.append((sam.packaged(uploads={"SharedLayer": "SharedLayer-changed.zip"}), DEFAULTS))
    return dict(zip([*PARAMETER_SETS, NEW_LIBRARY], sam.transform(jobs), strict=True))


@pytest.fixture(scope="module")
def default(transformed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return transformed["defaults"]


def deployed(template: dict[str, Any], parameters: dict[str, str]) -> Resolver:
    """Resolves ``template``'s intrinsics and conditions as CloudFormation would with ``parameters``,
    in the stack STACK_NAME."""
    declared = {**template["Parameters"], "AWS::StackName": {"Type": "String", "Default": STACK_NAME}}
    for name, value in parameters.items():
        declared[name] = {**declared[name], "Default": value}
    return Resolver({**template, "Parameters": declared}, environ={})


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def alias_id(template: dict[str, Any], function: str) -> str:
    """The logical id of the alias SAM made for ``function``."""
    (name,) = [
        name
        for name, resource in resources_of(template, ALIAS_TYPE).items()
        if resource["Properties"]["FunctionName"] == {"Ref": function}
    ]
    return name


def alias_of(template: dict[str, Any], function: str) -> dict[str, Any]:
    alias: dict[str, Any] = template["Resources"][alias_id(template, function)]
    return alias


def deployment_group(template: dict[str, Any], function: str) -> dict[str, Any]:
    """The deployment group that moves ``function``'s alias (its UpdatePolicy names it)."""
    update = alias_of(template, function)["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group: dict[str, Any] = template["Resources"][update["DeploymentGroupName"]["Ref"]]
    assert group["Type"] == GROUP_TYPE
    return group


def rollback_alarm_names(template: dict[str, Any], parameters: dict[str, str], function: str) -> list[str]:
    """The names of the alarms that roll a deployment of ``function`` back, once deployed."""
    configuration = deployment_group(template, function)["Properties"]["AlarmConfiguration"]
    resolved = deployed(template, parameters).resolve(configuration)
    if not resolved:
        return []
    assert resolved["Enabled"] is True
    return [alarm["Name"] for alarm in resolved["Alarms"]]


def monitoring_alarms_by_name() -> dict[str, dict[str, Any]]:
    """infra/monitoring.yaml's alarms by the name they get under the stack STACK_NAME."""
    monitoring = load_monitoring()
    values = {**parameter_defaults(monitoring), "NamePrefix": STACK_NAME}
    return {resolve(alarm["AlarmName"], values): alarm for alarm in alarms(monitoring).values()}


def dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in alarm["Dimensions"]}


def test_one_codedeploy_application_deploys_lambda_versions(default: dict[str, Any]) -> None:
    (application,) = resources_of(default, "AWS::CodeDeploy::Application").values()

    assert application["Properties"]["ComputePlatform"] == "Lambda"


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_each_deploy_publishes_a_version_that_the_alias_live_points_at(
    default: dict[str, Any], function: str
) -> None:
    alias = alias_of(default, function)["Properties"]
    version_id, attribute = alias["FunctionVersion"]["Fn::GetAtt"]
    version = default["Resources"][version_id]

    assert alias["Name"] == ALIAS
    assert attribute == "Version"
    assert version["Type"] == "AWS::Lambda::Version"
    assert version["Properties"]["FunctionName"] == {"Ref": function}


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_a_change_of_the_shared_library_alone_publishes_a_new_version(
    transformed: dict[str, dict[str, Any]], function: str
) -> None:
    """Else the alias would stay on a version with the old layer: the new library never served."""
    before = alias_of(transformed["defaults"], function)["Properties"]["FunctionVersion"]
    after = alias_of(transformed[NEW_LIBRARY], function)["Properties"]["FunctionVersion"]

    assert before != after


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_moving_the_alias_is_a_blue_green_deployment_of_its_codedeploy_group(
    default: dict[str, Any], function: str
) -> None:
    (application_id,) = resources_of(default, "AWS::CodeDeploy::Application")
    update = alias_of(default, function)["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = deployment_group(default, function)["Properties"]

    assert update["ApplicationName"] == {"Ref": application_id}
    assert group["ApplicationName"] == {"Ref": application_id}
    assert group["DeploymentStyle"] == {
        "DeploymentType": "BLUE_GREEN",
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
    }


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_a_deployment_rolls_back_when_a_5xx_latency_or_errors_alarm_fires(
    default: dict[str, Any], function: str
) -> None:
    rollback = deployment_group(default, function)["Properties"]["AutoRollbackConfiguration"]
    stem = FRONT_DOOR[function].lower()

    assert rollback["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in rollback["Events"]
    assert sorted(rollback_alarm_names(default, DEFAULTS, function)) == sorted(
        [f"{STACK_NAME}-http-5xx-rate", f"{STACK_NAME}-http-latency-p99", f"{STACK_NAME}-{stem}-errors"]
    )


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_every_rollback_alarm_is_one_the_monitoring_stack_creates(
    default: dict[str, Any], function: str
) -> None:
    created = monitoring_alarms_by_name()

    assert set(rollback_alarm_names(default, DEFAULTS, function)) <= set(created)


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_the_errors_alarm_watches_the_version_the_alias_is_moved_to(
    default: dict[str, Any], function: str
) -> None:
    stem = FRONT_DOOR[function]
    (errors,) = [
        alarm
        for name, alarm in monitoring_alarms_by_name().items()
        if name in rollback_alarm_names(default, DEFAULTS, function) and alarm.get("MetricName") == "Errors"
    ]
    passed = default["Resources"]["Monitoring"]["Properties"]["Parameters"]
    monitoring_defaults = parameter_defaults(load_monitoring())

    # ExecutedVersion: the invocations of that one version through the alias, whatever its share.
    assert dimensions(errors) == {
        "FunctionName": {"Ref": f"{stem}FunctionName"},
        "Resource": {"Fn::Sub": f"${{{stem}FunctionName}}:${{LiveAlias}}"},
        "ExecutedVersion": {"Ref": f"{stem}FunctionVersion"},
    }
    assert passed[f"{stem}FunctionName"] == {"Ref": function}
    assert passed[f"{stem}FunctionVersion"] == alias_of(default, function)["Properties"]["FunctionVersion"]
    assert monitoring_defaults["LiveAlias"] == ALIAS


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_without_the_monitoring_stack_a_deployment_watches_no_alarm(
    transformed: dict[str, dict[str, Any]], function: str
) -> None:
    assert rollback_alarm_names(transformed["no monitoring"], NO_MONITORING, function) == []


@pytest.mark.parametrize("function", FRONT_DOOR)
@pytest.mark.parametrize("parameter_set", ["defaults", "canary", "linear"])
def test_the_deployment_type_follows_the_parameter(
    transformed: dict[str, dict[str, Any]], function: str, parameter_set: str
) -> None:
    expected = PARAMETER_SETS[parameter_set].get("DeploymentType", "AllAtOnce")
    group = deployment_group(transformed[parameter_set], function)["Properties"]

    assert deployed(transformed[parameter_set], {}).resolve(group["DeploymentConfigName"]) == (
        f"CodeDeployDefault.Lambda{expected}"
    )


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_no_provisioned_concurrency_by_default(default: dict[str, Any], function: str) -> None:
    alias = deployed(default, DEFAULTS).resolve(alias_of(default, function)["Properties"])

    assert "ProvisionedConcurrencyConfig" not in alias


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_provisioned_concurrency_on_the_alias_when_its_parameter_is_above_zero(
    transformed: dict[str, dict[str, Any]], function: str
) -> None:
    template = transformed["canary"]
    alias = deployed(template, CANARY).resolve(alias_of(template, function)["Properties"])

    assert alias["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": CANARY[f"{FRONT_DOOR[function]}ProvisionedConcurrency"]
    }


def integrations(template: dict[str, Any]) -> dict[str, str]:
    """Each HTTP API route's integration URI (a ``Fn::Sub`` string), by "method /path" of its OpenAPI body."""
    body = template["Resources"]["HttpApi"]["Properties"]["Body"]
    return {
        f"{method} {path}": operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }


def invoked(uri: str, function: str) -> set[str]:
    """What ``uri`` names of ``function``: the function itself, an attribute of it, or its alias."""
    return {name for name in sub_variables(uri) if name.startswith(function)}


def test_every_route_of_the_proxy_invokes_its_alias(default: dict[str, Any]) -> None:
    proxy_routes = [
        route for route in read_http_api(TEMPLATE, environ={}).routes if route.function == "ProxyFunction"
    ]

    invoking_proxy = {
        key: invoked(uri, "ProxyFunction")
        for key, uri in integrations(default).items()
        if invoked(uri, "ProxyFunction")
    }

    assert len(invoking_proxy) == len(proxy_routes)
    assert set(map(frozenset, invoking_proxy.values())) == {frozenset({alias_id(default, "ProxyFunction")})}


def authorizer_function_arns(template: dict[str, Any]) -> dict[str, Any]:
    """The function ARN each authorizer of the HTTP API's OpenAPI body invokes, by authorizer."""
    schemes = template["Resources"]["HttpApi"]["Properties"]["Body"]["components"]["securitySchemes"]
    arns = {}
    for name, scheme in schemes.items():
        authorizer = scheme.get("x-amazon-apigateway-authorizer")
        if authorizer is None:
            continue  # AWS_IAM
        text, variables = authorizer["authorizerUri"]["Fn::Sub"]
        assert text.endswith("/functions/${__FunctionArn__}/invocations")
        arns[name] = variables["__FunctionArn__"]
    return arns


def test_the_http_apis_authorizers_invoke_the_authorizers_alias(default: dict[str, Any]) -> None:
    arns = authorizer_function_arns(default)
    alias = alias_of(default, "AuthorizerFunction")["Properties"]["Name"]

    # The alias's ARN: the function's ARN qualified by the alias name.
    assert set(arns) == {"TokenAuthorizer", "StreamTokenAuthorizer"}
    assert all(arn == {"Fn::Sub": f"${{AuthorizerFunction.Arn}}:{alias}"} for arn in arns.values())


def test_the_websocket_authorizer_invokes_the_authorizers_alias(default: dict[str, Any]) -> None:
    uri = default["Resources"]["WebSocketAuthorizer"]["Properties"]["AuthorizerUri"]["Fn::Sub"]
    alias = alias_of(default, "AuthorizerFunction")["Properties"]["Name"]

    assert uri.endswith(f"/functions/${{AuthorizerFunction.Arn}}:{alias}/invocations")


@pytest.mark.parametrize("function", FRONT_DOOR)
def test_every_permission_to_invoke_the_function_is_on_its_alias(
    default: dict[str, Any], function: str
) -> None:
    permissions = resources_of(default, "AWS::Lambda::Permission").values()

    targets = [
        permission["Properties"]["FunctionName"]
        for permission in permissions
        if function in str(permission["Properties"]["FunctionName"])
    ]

    assert targets
    assert all(target == {"Ref": alias_id(default, function)} for target in targets)


def references(value: Any) -> set[str]:
    """Every logical id or parameter ``value`` refers to: Ref, Fn::GetAtt, Fn::Sub and DependsOn."""
    if isinstance(value, list):
        return set().union(*map(references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found.add(item)
        elif key == "Fn::GetAtt":
            found.add(item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
        elif key == "Fn::Sub":
            text, variables = (item, {}) if isinstance(item, str) else item
            found |= {name.split(".", 1)[0] for name in sub_variables(text)} - set(variables)
            found |= references(variables)
        else:
            found |= references(item)
    return found


def test_the_transformed_template_has_no_circular_dependency(default: dict[str, Any]) -> None:
    resources = default["Resources"]
    # As CloudFormation orders them: every reference counts, the alias's UpdatePolicy included (the
    # cycle named in template.yaml's ProxyFunction comment goes through it).
    graph = {
        name: (references(resource) | set(resource.get("DependsOn", []))) & set(resources)
        for name, resource in resources.items()
    }

    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        pytest.fail(f"circular dependency: {' -> '.join(cycle.args[1])}")


def test_sam_local_serves_every_route_behind_the_authorizer_the_template_names() -> None:
    expected = {
        (route.path, route.function): route.authorizer for route in read_http_api(TEMPLATE, environ={}).routes
    }

    served = {(route["path"], route["function"]): route for route in sam.local_routes()}

    assert set(served) == set(expected)
    for key, authorizer in expected.items():
        assert served[key]["authorizer"] == authorizer, key
        if authorizer is not None:
            assert served[key]["authorizer_function"] == "AuthorizerFunction", key


# --- per environment (samconfig.toml) -------------------------------------------------------------


def deployment_types() -> dict[str, str]:
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    types = {}
    for environment in ("dev", "staging", "prod"):
        overrides = samconfig[environment]["deploy"]["parameters"]["parameter_overrides"]
        types[environment] = dict(override.split("=", 1) for override in overrides)["DeploymentType"]
    return types


def minutes_before_all_traffic_moves(deployment_type: str) -> int:
    """How long CodeDeploy keeps part of the traffic on the old version: a canary's wait, or a linear
    shift's nine steps after the first 10 %."""
    if match := re.fullmatch(r"Canary10Percent(\d+)Minutes", deployment_type):
        return int(match.group(1))
    if match := re.fullmatch(r"Linear10PercentEvery(\d+)Minutes?", deployment_type):
        return 9 * int(match.group(1))
    raise AssertionError(f"{deployment_type} is not a gradual deployment")


def minutes_to_fire(alarm: dict[str, Any]) -> float:
    """The shortest time an alarm needs to fire: its breaching datapoints' periods."""
    period = float(alarm.get("Period") or alarm["Metrics"][0]["MetricStat"]["Period"])
    return period * int(alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])) / 60


def test_dev_deploys_all_at_once_and_staging_and_prod_gradually() -> None:
    types = deployment_types()

    assert types["dev"] == "AllAtOnce"
    assert minutes_before_all_traffic_moves(types["staging"]) > 0
    assert minutes_before_all_traffic_moves(types["prod"]) > 0


@pytest.mark.parametrize("environment", ["staging", "prod"])
@pytest.mark.parametrize("function", FRONT_DOOR)
def test_a_gradual_deployment_lasts_longer_than_its_slowest_rollback_alarm_needs_to_fire(
    default: dict[str, Any], environment: str, function: str
) -> None:
    created = monitoring_alarms_by_name()
    slowest = max(
        minutes_to_fire(created[name]) for name in rollback_alarm_names(default, DEFAULTS, function)
    )

    assert minutes_before_all_traffic_moves(deployment_types()[environment]) > slowest
