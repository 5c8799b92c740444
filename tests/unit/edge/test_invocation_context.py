"""The Lambda context object serve, the local runtime and the tests hand to handlers."""

from __future__ import annotations

from bakery_gateway.edge.invocation_context import LambdaContext


class StoppedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_time_left_is_the_timeout_at_the_start_of_an_invocation() -> None:
    context = LambdaContext(timeout_seconds=10, clock=StoppedClock(100.0))

    assert context.get_remaining_time_in_millis() == 10_000


def test_the_time_left_shrinks_as_the_invocation_runs() -> None:
    clock = StoppedClock(100.0)
    context = LambdaContext(timeout_seconds=10, clock=clock)

    clock.now = 107.5

    assert context.get_remaining_time_in_millis() == 2_500


def test_the_time_left_is_never_negative() -> None:
    clock = StoppedClock(100.0)
    context = LambdaContext(timeout_seconds=1, clock=clock)

    clock.now = 200.0

    assert context.get_remaining_time_in_millis() == 0


def test_the_function_arn_names_the_function() -> None:
    context = LambdaContext("ProxyFunction")

    assert context.invoked_function_arn.endswith(":function:ProxyFunction")


def test_each_invocation_has_a_request_id_of_its_own() -> None:
    assert LambdaContext().aws_request_id != LambdaContext().aws_request_id
