"""The retry budget: a tenth of the requests in the last ten seconds, plus three, per container."""

from __future__ import annotations

import pytest

from bakery_gateway.forwarding.retry_budget import RetryBudget, may_retry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spend_all(budget: RetryBudget) -> int:
    spent = 0
    while budget.try_spend():
        spent += 1
    return spent


def test_a_quiet_container_may_still_retry_a_few_times() -> None:
    assert spend_all(RetryBudget(clock=Clock())) == 3


def test_retries_grow_with_a_tenth_of_the_requests() -> None:
    budget = RetryBudget(clock=Clock())
    for _ in range(100):
        budget.record_request()

    assert spend_all(budget) == 3 + 10


def test_the_budget_comes_back_once_the_window_has_passed() -> None:
    clock = Clock()
    budget = RetryBudget(clock=clock)
    spend_all(budget)

    clock.now += 10.0

    assert budget.try_spend()


def test_requests_older_than_the_window_no_longer_earn_retries() -> None:
    clock = Clock()
    budget = RetryBudget(clock=clock)
    for _ in range(100):
        budget.record_request()

    clock.now += 11.0

    assert spend_all(budget) == 3


@pytest.mark.parametrize(
    ("method", "allowed"),
    [
        ("GET", True),
        ("HEAD", True),
        ("OPTIONS", True),
        ("PUT", True),
        ("DELETE", True),
        ("POST", False),
        ("PATCH", False),
    ],
)
def test_only_idempotent_methods_may_be_retried(method: str, allowed: bool) -> None:
    assert may_retry(method) is allowed
