"""infra/monitoring.yaml watches what template.yaml deploys, on the metric contract the code writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bakery_gateway.settings import ObservabilitySettings
from bakery_gateway.telemetry import observability as obs
from bakery_local.template import read_http_api
from tests.support.monitoring_stack import (
    FUNCTION_PARAMETER_STEMS,
    FUNCTION_TYPE,
    MONITORING,
    ROOT,
    TEMPLATE,
    alarms,
    load_monitoring,
    load_parent,
    parameter_defaults,
    resolve,
    sub_variables,
)

FUNCTIONS = sorted(
    name for name, resource in load_parent()["Resources"].items() if resource["Type"] == FUNCTION_TYPE
)
# TreatMissingData values CloudWatch accepts; each alarm must name one (the default is "missing").
TREAT_MISSING_DATA = {"breaching", "notBreaching", "ignore", "missing"}
# The gateway's counters the dashboard shows, as EMF writes them: the Prometheus name plus _total.
DASHBOARD_COUNTERS = (
    obs.RATE_LIMIT_EXCEEDED,
    obs.AUTH_CACHE_HITS,
    obs.AUTH_CACHE_MISSES,
    obs.REDIS_ERRORS,
    obs.WEBSOCKET_DELIVERIES,
    obs.ALERTS,
)


def emf_name(counter: Any) -> str:
    """A counter's metric name in EMF: prometheus_client keeps counter names without ``_total``."""
    return f"{counter.describe()[0].name}_total"


@pytest.fixture(scope="module")
def parent() -> dict[str, Any]:
    return load_parent()


@pytest.fixture(scope="module")
def monitoring() -> dict[str, Any]:
    return load_monitoring()


@pytest.fixture(scope="module")
def passed(parent: dict[str, Any]) -> dict[str, Any]:
    """The parameters template.yaml hands the nested stack."""
    parameters: dict[str, Any] = parent["Resources"]["Monitoring"]["Properties"]["Parameters"]
    return parameters


def parameter_fed_by(passed: dict[str, Any], logical_id: str) -> str:
    """The nested stack's parameter that receives ``!Ref logical_id`` from the parent."""
    names = [name for name, value in passed.items() if value == {"Ref": logical_id}]
    assert len(names) == 1, f"template.yaml hands {logical_id} to the monitoring stack {len(names)} times"
    return names[0]


def metric_of(alarm: dict[str, Any], metric_name: str) -> dict[str, Any]:
    """The alarm's metric named ``metric_name``: its own, or one of its metric-math inputs."""
    if alarm.get("MetricName") == metric_name:
        return {key: alarm[key] for key in ("Namespace", "MetricName", "Dimensions")}
    for query in alarm.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric", {})
        if metric.get("MetricName") == metric_name:
            return dict(metric)
    raise AssertionError(f"{alarm['AlarmName']} reads no {metric_name}")


def dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in metric["Dimensions"]}


def alarms_on(monitoring: dict[str, Any], namespace: Any, metric_name: str) -> list[dict[str, Any]]:
    found = []
    for alarm in alarms(monitoring).values():
        try:
            metric = metric_of(alarm, metric_name)
        except AssertionError:
            continue
        if metric["Namespace"] == namespace:
            found.append(alarm)
    return found


def test_the_template_nests_the_monitoring_stack_when_monitoring_is_enabled(parent: dict[str, Any]) -> None:
    resource = parent["Resources"]["Monitoring"]

    assert resource["Type"] == "AWS::Serverless::Application"
    assert (ROOT / resource["Properties"]["Location"]).resolve() == MONITORING
    assert parent["Conditions"][resource["Condition"]] == {
        "Fn::Equals": [{"Ref": "EnableMonitoring"}, "true"]
    }


def test_the_template_passes_every_required_parameter_and_no_unknown_one(
    monitoring: dict[str, Any], passed: dict[str, Any]
) -> None:
    declared = monitoring["Parameters"]
    required = {name for name, parameter in declared.items() if "Default" not in parameter}

    assert set(passed) <= set(declared)
    assert required <= set(passed)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_of_the_template_has_a_throttles_alarm(
    monitoring: dict[str, Any], passed: dict[str, Any], function: str
) -> None:
    parameter = parameter_fed_by(passed, function)

    watched = [
        dimensions(metric_of(alarm, "Throttles"))
        for alarm in alarms_on(monitoring, "AWS/Lambda", "Throttles")
    ]

    assert {"FunctionName": {"Ref": parameter}} in watched


def test_the_5xx_alarm_divides_the_http_apis_5xx_by_its_requests(
    monitoring: dict[str, Any], passed: dict[str, Any]
) -> None:
    alarm = alarms(monitoring)["Http5xxRateAlarm"]
    stage = {"ApiId": {"Ref": "HttpApiId"}, "Stage": {"Ref": "HttpApiStage"}}
    (expression,) = (query for query in alarm["Metrics"] if query.get("ReturnData"))

    assert dimensions(metric_of(alarm, "5xx")) == stage
    assert dimensions(metric_of(alarm, "Count")) == stage
    assert "errors" in expression["Expression"]["Fn::Sub"]
    assert "/ requests" in expression["Expression"]["Fn::Sub"]
    assert alarm["Threshold"] == {"Ref": "Http5xxRatePercent"}
    assert passed["HttpApiId"] == {"Ref": "HttpApi"}


def test_the_latency_alarm_reads_the_p99_of_a_route_the_http_api_has(
    monitoring: dict[str, Any], passed: dict[str, Any]
) -> None:
    alarm = alarms(monitoring)["HttpLatencyP99Alarm"]
    route = monitoring["Parameters"]["LatencyRouteKey"]["Default"]

    assert alarm["MetricName"] == "Latency"
    assert alarm["ExtendedStatistic"] == "p99"
    assert dimensions(alarm)["Route"] == {"Ref": "LatencyRouteKey"}
    assert route in {spec.route_key for spec in read_http_api(TEMPLATE, environ={}).routes}
    assert passed["HttpApiId"] == {"Ref": "HttpApi"}


def test_the_http_api_publishes_route_metrics_whenever_the_latency_alarm_exists(
    parent: dict[str, Any],
) -> None:
    settings = parent["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]

    # The same settings hold the stage's throttling (docs/deploy.md), which is always on.
    assert settings["DetailedMetricsEnabled"] == {
        "Fn::If": [parent["Resources"]["Monitoring"]["Condition"], True, False]
    }


@pytest.mark.parametrize("function", ["AuthorizerFunction", "ProxyFunction"])
def test_the_errors_alarm_of_a_function_behind_the_alias_watches_its_live_version(
    monitoring: dict[str, Any], passed: dict[str, Any], function: str
) -> None:
    name_parameter = parameter_fed_by(passed, function)
    stem = name_parameter.removesuffix("FunctionName")

    watched = [
        dimensions(metric_of(alarm, "Errors")) for alarm in alarms_on(monitoring, "AWS/Lambda", "Errors")
    ]

    # ExecutedVersion: the version the deployment moves the alias to (test_template_deployment.py).
    assert {
        "FunctionName": {"Ref": name_parameter},
        "Resource": {"Fn::Sub": f"${{{name_parameter}}}:${{LiveAlias}}"},
        "ExecutedVersion": {"Ref": f"{stem}FunctionVersion"},
    } in watched
    assert passed[f"{stem}FunctionVersion"] == {"Fn::GetAtt": [function, "Version.Version"]}


def test_the_redis_alarm_reads_the_emf_metric_the_code_writes(monitoring: dict[str, Any]) -> None:
    (alarm,) = alarms_on(monitoring, {"Ref": "MetricsNamespace"}, emf_name(obs.REDIS_ERRORS))
    defaults = parameter_defaults(monitoring)

    assert dimensions(alarm) == {"service": {"Ref": "MetricsService"}}
    assert defaults["MetricsService"] == obs.SERVICE_NAME
    assert defaults["MetricsNamespace"] == ObservabilitySettings().metrics_namespace


def test_the_namespace_the_functions_write_to_is_the_one_the_monitoring_stack_reads(
    parent: dict[str, Any], passed: dict[str, Any]
) -> None:
    variables = parent["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    assert passed["MetricsNamespace"] == {"Ref": "MetricsNamespace"}
    assert parent["Parameters"]["MetricsNamespace"]["Default"] == ObservabilitySettings().metrics_namespace


@pytest.mark.parametrize("name", sorted(alarms(load_monitoring())))
def test_every_alarm_treats_missing_data_deliberately(monitoring: dict[str, Any], name: str) -> None:
    assert alarms(monitoring)[name].get("TreatMissingData") in TREAT_MISSING_DATA


@pytest.mark.parametrize("name", sorted(alarms(load_monitoring())))
def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(
    monitoring: dict[str, Any], name: str
) -> None:
    alarm = alarms(monitoring)[name]

    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}]


def dashboard_body(monitoring: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body with the parameters' defaults and a placeholder for each alarm's ARN."""
    values: dict[str, Any] = {
        **parameter_defaults(monitoring),
        "AWS::Region": "eu-west-1",
        "HttpApiId": "abc123",
        "WebSocketApiId": "def456",
        "WebSocketStage": "live",
        **{f"{name}FunctionName": f"stack-{name}" for name in FUNCTION_PARAMETER_STEMS},
        **{f"{name}.Arn": f"arn:alarm:{name}" for name in alarms(monitoring)},
    }
    body = resolve(monitoring["Resources"]["Dashboard"]["Properties"]["DashboardBody"], values)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def metric_rows(widget: dict[str, Any]) -> list[list[str]]:
    """A metric widget's metrics as full rows (namespace, name, dimension pairs), its shorthands
    expanded: "." repeats the previous row's item, a leading "..." its items with the tail replaced."""
    rows: list[list[str]] = []
    for row in widget["properties"]["metrics"]:
        items = [item for item in row if isinstance(item, str)]
        if not items:
            continue  # a metric-math expression
        previous = rows[-1] if rows else []
        if items[0] == "...":
            given = items[1:]
            rows.append(previous[: len(previous) - len(given)] + given)
        else:
            rows.append([previous[i] if item == "." else item for i, item in enumerate(items)])
    return rows


def test_the_dashboard_substitutes_only_the_stacks_parameters_and_alarms(monitoring: dict[str, Any]) -> None:
    text = monitoring["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    known = set(monitoring["Parameters"]) | {f"{name}.Arn" for name in alarms(monitoring)} | {"AWS::Region"}

    assert sub_variables(text) <= known


def test_the_dashboard_shows_every_alarm(monitoring: dict[str, Any]) -> None:
    widgets = dashboard_body(monitoring)["widgets"]

    shown = {arn for widget in widgets if widget["type"] == "alarm" for arn in widget["properties"]["alarms"]}

    assert shown == {f"arn:alarm:{name}" for name in alarms(monitoring)}


def test_the_dashboard_shows_the_gateways_counters_under_the_emf_contract(monitoring: dict[str, Any]) -> None:
    defaults = parameter_defaults(monitoring)
    rows = [
        row
        for widget in dashboard_body(monitoring)["widgets"]
        if widget["type"] == "metric"
        for row in metric_rows(widget)
        if row[0] == defaults["MetricsNamespace"]
    ]

    assert {row[1] for row in rows} == {emf_name(counter) for counter in DASHBOARD_COUNTERS}
    assert all(row[2:4] == ["service", obs.SERVICE_NAME] for row in rows)


def test_every_lambda_widget_shows_every_function(monitoring: dict[str, Any]) -> None:
    functions = {f"stack-{name}" for name in FUNCTION_PARAMETER_STEMS}
    lambda_widgets = [
        widget
        for widget in dashboard_body(monitoring)["widgets"]
        if widget["type"] == "metric" and metric_rows(widget)[0][0] == "AWS/Lambda"
    ]

    assert {widget["properties"]["title"] for widget in lambda_widgets} >= {"Errors", "Throttles"}
    assert all({row[3] for row in metric_rows(widget)} == functions for widget in lambda_widgets)


def test_the_dashboard_lays_out_widgets_on_its_24_column_grid(monitoring: dict[str, Any]) -> None:
    widgets = dashboard_body(monitoring)["widgets"]

    assert all(widget["x"] + widget["width"] <= 24 for widget in widgets)
