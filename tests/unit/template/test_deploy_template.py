"""template.yaml, infra/network.yaml, infra/redis.yaml, samconfig.toml and the deploy workflow agree
with docs/deploy.md: the VPC, the security groups, Redis and its token, permissions, environments."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakery_local.template import load_template

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ("AuthorizerFunction", "ProxyFunction", "PolicyFunction", "FanoutFunction", "WebSocketFunction")
ENVIRONMENTS = ("dev", "staging", "prod")
READ_REDIS_SECRET = {"Fn::If": ["HasRedisSecret", {"Ref": "RedisSecretReadPolicy"}, {"Ref": "AWS::NoValue"}]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def redis_stack() -> dict[str, Any]:
    return load_template(ROOT / "infra" / "redis.yaml")


@pytest.fixture(scope="module")
def network_stack() -> dict[str, Any]:
    return load_template(ROOT / "infra" / "network.yaml")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def test_every_function_joins_the_vpc_with_the_functions_security_group(template: dict[str, Any]) -> None:
    condition, config, otherwise = template["Globals"]["Function"]["VpcConfig"]["Fn::If"]

    assert (condition, otherwise) == ("InVpc", {"Ref": "AWS::NoValue"})
    assert config["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]
    assert not any("VpcConfig" in template["Resources"][name]["Properties"] for name in FUNCTIONS)


def test_the_functions_group_admits_nothing_and_sends_https_anywhere(template: dict[str, Any]) -> None:
    group = template["Resources"]["FunctionSecurityGroup"]["Properties"]

    assert "SecurityGroupIngress" not in group
    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["CidrIp"])
        for rule in group["SecurityGroupEgress"]
    ] == [("tcp", 443, 443, "0.0.0.0/0")]


def test_the_functions_other_egress_rules_are_redis_and_an_optional_range(template: dict[str, Any]) -> None:
    rules = resources(template, "AWS::EC2::SecurityGroupEgress")

    assert {name: rule["Condition"] for name, rule in rules.items()} == {
        "FunctionToRedisEgress": "RedisCreated",
        "FunctionToExternalRedisEgress": "ExternalRedisInVpc",
        "FunctionExtraEgress": "HasExtraEgress",
    }
    to_redis = rules["FunctionToRedisEgress"]["Properties"]
    assert (to_redis["FromPort"], to_redis["ToPort"]) == (6379, 6379)
    assert to_redis["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["Redis", "Outputs.SecurityGroupId"]}
    assert all(rule["Properties"]["GroupId"] == {"Ref": "FunctionSecurityGroup"} for rule in rules.values())


def test_redis_admits_the_functions_group_on_6379_only_and_sends_nothing(redis_stack: dict[str, Any]) -> None:
    group = redis_stack["Resources"]["SecurityGroup"]["Properties"]

    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["SourceSecurityGroupId"])
        for rule in group["SecurityGroupIngress"]
    ] == [("tcp", 6379, 6379, {"Ref": "ClientSecurityGroupId"})]
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["127.0.0.1/32"]


def test_redis_is_one_shard_encrypted_in_transit_and_at_rest(redis_stack: dict[str, Any]) -> None:
    group = redis_stack["Resources"]["ReplicationGroup"]["Properties"]

    # Cluster mode would refuse the policy script's multi-key calls (CROSSSLOT): docs/deploy.md.
    assert group["ClusterMode"] == "disabled"
    assert "NumNodeGroups" not in group
    assert (group["TransitEncryptionEnabled"], group["TransitEncryptionMode"]) == (True, "required")
    assert group["AtRestEncryptionEnabled"] is True


def test_redis_with_replicas_fails_over_to_another_zone_and_keeps_daily_snapshots(
    redis_stack: dict[str, Any],
) -> None:
    replication_group = redis_stack["Resources"]["ReplicationGroup"]
    group = replication_group["Properties"]

    assert group["AutomaticFailoverEnabled"] == {"Fn::If": ["HasReplicas", True, False]}
    assert group["MultiAZEnabled"] == {"Fn::If": ["HasReplicas", True, False]}
    assert group["SnapshotRetentionLimit"] == {"Ref": "SnapshotRetentionDays"}
    assert (replication_group["DeletionPolicy"], replication_group["UpdateReplacePolicy"]) == (
        "Snapshot",
    ) * 2


def test_redis_never_evicts_a_key_so_no_revocation_is_dropped_to_make_room(
    redis_stack: dict[str, Any],
) -> None:
    group = redis_stack["Resources"]["ReplicationGroup"]["Properties"]
    parameter_group = redis_stack["Resources"]["ParameterGroup"]["Properties"]

    assert group["CacheParameterGroupName"] == {"Ref": "ParameterGroup"}
    assert parameter_group["Properties"] == {"maxmemory-policy": "noeviction"}
    assert parameter_group["CacheParameterGroupFamily"] == "redis7"


def test_a_production_stack_refuses_a_redis_without_a_replica_or_without_snapshots(
    template: dict[str, Any],
) -> None:
    rule = template["Rules"]["ProductionRedisSurvivesANode"]

    assert rule["RuleCondition"] == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "Environment"}, "prod"]},
            {"Fn::Equals": [{"Ref": "RedisHost"}, ""]},
        ]
    }
    assert [assertion["Assert"] for assertion in rule["Assertions"]] == [
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "RedisNumCacheClusters"}, "1"]}]},
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "RedisSnapshotRetentionDays"}, "0"]}]},
    ]


@pytest.mark.parametrize(
    ("environment", "nodes", "snapshot_days"), [("dev", 1, 0), ("staging", 2, 1), ("prod", 2, 7)]
)
def test_each_environments_redis_has_its_replicas_and_snapshots(
    samconfig: dict[str, Any], environment: str, nodes: int, snapshot_days: int
) -> None:
    overrides = dict(
        override.split("=", 1)
        for override in samconfig[environment]["deploy"]["parameters"]["parameter_overrides"]
    )

    assert int(overrides["RedisNumCacheClusters"]) == nodes
    assert int(overrides["RedisSnapshotRetentionDays"]) == snapshot_days


def test_the_auth_token_is_generated_into_secrets_manager_never_a_parameter(
    redis_stack: dict[str, Any],
) -> None:
    group = redis_stack["Resources"]["ReplicationGroup"]["Properties"]
    secret = redis_stack["Resources"]["AuthTokenSecret"]["Properties"]

    assert group["AuthToken"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${AuthTokenSecret}:SecretString:password}}"
    }
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"
    assert redis_stack["Outputs"]["AuthTokenSecretArn"]["Value"] == {"Ref": "AuthTokenSecret"}


def test_the_functions_get_the_redis_stacks_endpoint_tls_and_secret(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    from_stack = {name: variables[name]["Fn::If"][:2] for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_TLS")}
    from_stack["REDIS_PASSWORD_SECRET_ID"] = variables["REDIS_PASSWORD_SECRET_ID"]["Fn::If"][:2]

    assert from_stack == {
        "REDIS_HOST": ["RedisCreated", {"Fn::GetAtt": ["Redis", "Outputs.Host"]}],
        "REDIS_PORT": ["RedisCreated", {"Fn::GetAtt": ["Redis", "Outputs.Port"]}],
        "REDIS_TLS": ["RedisCreated", "true"],
        "REDIS_PASSWORD_SECRET_ID": ["RedisCreated", {"Fn::GetAtt": ["Redis", "Outputs.AuthTokenSecretArn"]}],
    }


def test_no_plain_redis_password_reaches_the_functions(template: dict[str, Any]) -> None:
    assert "REDIS_PASSWORD" not in template["Globals"]["Function"]["Environment"]["Variables"]
    assert "RedisPassword" not in template["Parameters"]


def test_every_function_may_read_the_redis_token_and_that_secret_only(template: dict[str, Any]) -> None:
    (statement,) = template["Resources"]["RedisSecretReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"]["Fn::If"][:2] == [
        "RedisCreated",
        {"Fn::GetAtt": ["Redis", "Outputs.AuthTokenSecretArn"]},
    ]
    for name in FUNCTIONS:
        assert READ_REDIS_SECRET in template["Resources"][name]["Properties"]["Policies"], name


def test_the_jwt_keys_come_from_ssm_by_default(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]

    assert parameters["JwtPublicKeysSsmParameter"]["Default"].startswith("/")
    assert parameters["JwtPublicKey"]["Default"] == parameters["JwtPublicKeys"]["Default"] == ""


def test_the_fanouts_failed_asynchronous_invocations_go_to_its_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["FanoutFunction"]["Properties"]["DeadLetterQueue"]

    assert queue == {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]}}


def test_reserved_concurrency_is_one_parameter_for_every_function(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }


def test_both_stages_are_throttled_by_the_throttling_parameters(template: dict[str, Any]) -> None:
    http = template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    websocket = template["Resources"]["WebSocketStage"]["Properties"]["DefaultRouteSettings"]

    for settings in (http, websocket):
        assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
        assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}


def test_every_function_has_a_log_group_kept_for_the_retention_parameter(template: dict[str, Any]) -> None:
    groups = {
        group["Properties"]["LogGroupName"].get("Fn::Sub"): group["Properties"]["RetentionInDays"]
        for group in resources(template, "AWS::Logs::LogGroup").values()
    }

    for name in FUNCTIONS:
        assert groups[f"/aws/lambda/${{{name}}}"] == {"Ref": "LogRetentionDays"}


def test_the_access_log_names_the_route_never_the_path_or_query(template: dict[str, Any]) -> None:
    log_format = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]

    assert "$context.routeKey" in log_format
    assert "$context.path" not in log_format
    assert "requestUri" not in log_format


@pytest.mark.parametrize(("resource", "nested"), [("Network", "network.yaml"), ("Redis", "redis.yaml")])
def test_a_nested_stack_gets_every_parameter_it_requires_and_no_other(
    template: dict[str, Any], resource: str, nested: str
) -> None:
    properties = template["Resources"][resource]["Properties"]
    parameters = load_template(ROOT / "infra" / nested)["Parameters"]

    assert properties["Location"] == f"infra/{nested}"
    assert set(properties["Parameters"]) <= set(parameters)
    assert {name for name, spec in parameters.items() if "Default" not in spec} <= set(
        properties["Parameters"]
    )


def test_the_network_stack_gives_one_output_per_private_subnet(network_stack: dict[str, Any]) -> None:
    assert {"VpcId", "PrivateSubnetA", "PrivateSubnetB"} <= set(network_stack["Outputs"])
    subnets = resources(network_stack, "AWS::EC2::Subnet").values()
    assert all(subnet["Properties"]["MapPublicIpOnLaunch"] is False for subnet in subnets)


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_deploys_its_own_stack_with_nested_stacks_allowed(
    samconfig: dict[str, Any], environment: str
) -> None:
    deploy = samconfig[environment]["deploy"]["parameters"]

    assert samconfig[environment]["global"]["parameters"]["stack_name"] == f"bakery-gateway-{environment}"
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert f"Environment={environment}" in deploy["parameter_overrides"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environments_overrides_name_template_parameters(
    samconfig: dict[str, Any], template: dict[str, Any], environment: str
) -> None:
    overrides = samconfig[environment]["deploy"]["parameters"]["parameter_overrides"]

    assert {override.split("=", 1)[0] for override in overrides} <= set(template["Parameters"])


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    assert isinstance(document, dict)
    return document


def test_the_pipeline_tests_then_deploys_dev_staging_prod_in_turn() -> None:
    jobs = workflow("deploy.yml")["jobs"]

    assert "make test" in [step.get("run") for step in jobs["test"]["steps"]]
    assert [
        (name, job["needs"], job["with"]["environment"]) for name, job in jobs.items() if name != "test"
    ] == [
        ("deploy-dev", "test", "dev"),
        ("deploy-staging", "deploy-dev", "staging"),
        ("deploy-prod", "deploy-staging", "prod"),
    ]


def test_each_deployment_runs_in_its_github_environment_with_an_oidc_role() -> None:
    (job,) = workflow("deploy-environment.yml")["jobs"].values()
    steps = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    runs = " ".join(step.get("run", "") for step in job["steps"])

    # The environment's protection rules (prod: required reviewers) gate the job: the manual approval.
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["permissions"]["id-token"] == "write"
    assert "role-to-assume" in steps["aws-actions/configure-aws-credentials"]["with"]
    assert "aws-access-key-id" not in steps["aws-actions/configure-aws-credentials"]["with"]
    assert "make deploy ENV=${{ inputs.environment }}" in runs
    assert "make smoke" in runs
