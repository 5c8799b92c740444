"""CloudWatch accepts infra/monitoring.yaml's alarms and dashboard as the template writes them.

CloudFormation hands an alarm's properties to PutMetricAlarm under the same names: sending them,
resolved, through boto3 (botocore validates every shape and type) to moto proves the properties
are the API's. Moto does not evaluate alarms; what they watch is checked in the unit tests.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support.monitoring_stack import (
    FUNCTION_PARAMETER_STEMS,
    alarms,
    load_monitoring,
    parameter_defaults,
    resolve,
)

MONITORING = load_monitoring()


@pytest.fixture
def values(aws: None) -> dict[str, Any]:
    """The stack's parameters as the parent would fill them, and its own resources, in moto's account."""
    sns: Any = boto3.client("sns")
    topic_arn = sns.create_topic(Name="gateway-alarms")["TopicArn"]
    return {
        **parameter_defaults(MONITORING),
        "AWS::Region": "eu-west-1",
        "NamePrefix": "bakery-gateway-dev",
        "HttpApiId": "abc123",
        "WebSocketApiId": "def456",
        "WebSocketStage": "live",
        **{f"{stem}FunctionName": f"bakery-gateway-dev-{stem}" for stem in FUNCTION_PARAMETER_STEMS},
        # The versions the deployment moves the proxy's and the authorizer's alias to.
        "AuthorizerFunctionVersion": "12",
        "ProxyFunctionVersion": "34",
        "AlarmTopic": topic_arn,
        **{
            f"{name}.Arn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"
            for name in alarms(MONITORING)
        },
    }


@pytest.mark.parametrize("name", sorted(alarms(MONITORING)))
def test_cloudwatch_accepts_the_alarm_as_the_template_writes_it(values: dict[str, Any], name: str) -> None:
    cloudwatch: Any = boto3.client("cloudwatch")
    properties = resolve(alarms(MONITORING)[name], values)

    cloudwatch.put_metric_alarm(**properties)

    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[properties["AlarmName"]])["MetricAlarms"]
    assert alarm["TreatMissingData"] == properties["TreatMissingData"]
    assert alarm["AlarmActions"] == [values["AlarmTopic"]]


def test_cloudwatch_accepts_the_dashboard_body(values: dict[str, Any]) -> None:
    cloudwatch: Any = boto3.client("cloudwatch")
    properties = resolve(MONITORING["Resources"]["Dashboard"]["Properties"], values)

    cloudwatch.put_dashboard(**properties)

    stored = cloudwatch.get_dashboard(DashboardName=properties["DashboardName"])
    assert json.loads(stored["DashboardBody"]) == json.loads(properties["DashboardBody"])
