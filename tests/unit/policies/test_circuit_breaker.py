"""Circuit admission from the policy round trip's view, and which outcomes are worth a write."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.errors import ConfigurationError, ServiceCircuitOpenError
from bakery_gateway.policies.circuit_breaker import (
    CLOSED,
    UNKNOWN,
    CircuitBreakers,
    CircuitState,
    CircuitView,
    is_failure,
)
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.observability import registry


class FakeScript:
    def __init__(self, answer: list[Any]) -> None:
        self.answer = answer
        self.calls: list[tuple[list[str], list[Any]]] = []

    async def __call__(self, *, keys: list[str], args: list[Any]) -> list[Any]:
        self.calls.append((keys, args))
        return self.answer


class FakeRedis:
    def __init__(self, script: FakeScript) -> None:
        self.script = script

    def register_script(self, source: str) -> FakeScript:
        return self.script


def breakers(answer: list[Any] | None = None, **settings: Any) -> tuple[CircuitBreakers, FakeScript]:
    script = FakeScript(answer or ["closed", 0])
    return CircuitBreakers(
        Settings(**settings), redis_clients=PerEventLoop(lambda: FakeRedis(script))
    ), script


def gauge(service: str) -> float | None:
    return registry.get_sample_value("gateway_circuit_state", {"service": service})


def test_an_open_circuit_refuses_with_a_503_problem_and_retry_after_in_whole_seconds() -> None:
    circuit, _ = breakers()

    with pytest.raises(ServiceCircuitOpenError) as refusal:
        circuit.admit("sales", CircuitView(CircuitState.OPEN, retry_after_ms=1500))

    assert refusal.value.status == 503
    assert refusal.value.problem_type == "circuit-open"
    assert refusal.value.headers["Retry-After"] == "2"
    assert refusal.value.extensions == {"service": "sales", "circuit": "open"}
    assert gauge("sales") == 2


def test_a_half_open_circuit_admits_only_the_probe() -> None:
    circuit, _ = breakers()

    circuit.admit("orders", CircuitView(CircuitState.HALF_OPEN, probe=True))
    with pytest.raises(ServiceCircuitOpenError):
        circuit.admit("orders", CircuitView(CircuitState.HALF_OPEN, retry_after_ms=300))
    assert gauge("orders") == 1


def test_an_unknown_circuit_fails_open() -> None:
    circuit, _ = breakers()
    service = f"never-seen-{uuid.uuid4().hex[:8]}"  # the gauge is process-wide: other tests set theirs

    circuit.admit(service, UNKNOWN)

    assert gauge(service) is None  # nothing known, nothing shown


def test_the_script_answer_becomes_a_view() -> None:
    view = CircuitView.from_script(b"half-open", 1, 0, 0)

    assert view == CircuitView(CircuitState.HALF_OPEN, probe=True)


@pytest.mark.parametrize(
    ("status", "failed"), [(502, True), (503, True), (504, True), (500, False), (404, False)]
)
def test_only_gateway_and_availability_statuses_count_as_failures(status: int, failed: bool) -> None:
    assert is_failure(status) is failed


async def test_a_success_of_a_healthy_circuit_writes_nothing() -> None:
    circuit, script = breakers()

    await circuit.record("sales", CLOSED, failed=False)

    assert script.calls == []


@pytest.mark.parametrize(
    "view",
    [CircuitView(failures=2), CircuitView(CircuitState.HALF_OPEN, probe=True)],
    ids=["ends a run of failures", "a probe"],
)
async def test_a_success_that_changes_something_is_written(view: CircuitView) -> None:
    circuit, script = breakers()

    await circuit.record("sales", view, failed=False)

    assert len(script.calls) == 1


async def test_a_failure_is_written_with_the_configured_threshold_and_open_time() -> None:
    circuit, script = breakers(["open", 0], circuit_failure_threshold=4, circuit_open_seconds=2.5)

    await circuit.record("sales", CLOSED, failed=True)

    keys, args = script.calls[0]
    assert keys == ["gw:circuit:sales"]
    assert args[:4] == [1, 0, 4, 2500]
    assert gauge("sales") == 2


async def test_a_threshold_of_zero_writes_nothing_and_reads_nothing() -> None:
    circuit, script = breakers(circuit_failure_threshold=0)

    await circuit.record("sales", CLOSED, failed=True)

    assert script.calls == []
    assert circuit.probe_lease_ms == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CIRCUIT_OPEN_SECONDS", "soon"), ("CIRCUIT_OPEN_SECONDS", "0"), ("CIRCUIT_FAILURE_THRESHOLD", "-1")],
)
def test_a_bad_circuit_setting_fails_the_cold_start_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ({variable: value})


def test_the_circuit_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_environ({"CIRCUIT_FAILURE_THRESHOLD": "7", "CIRCUIT_OPEN_SECONDS": "12.5"})

    assert (settings.circuit_failure_threshold, settings.circuit_open_seconds) == (7, 12.5)
