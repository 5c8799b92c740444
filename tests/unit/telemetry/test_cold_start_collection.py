"""Garbage collection during a handler's cold start on Lambda (bakery_gateway.cold_start)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bakery_gateway import cold_start


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    yield
    cold_start.resume_collection()
    gc.unfreeze()
    gc.enable()


def test_collection_is_paused_on_lambda() -> None:
    assert cold_start.pause_collection({"AWS_LAMBDA_FUNCTION_NAME": "proxy"}) is True
    assert not gc.isenabled()


def test_collection_runs_on_outside_lambda() -> None:
    assert cold_start.pause_collection({}) is False
    assert gc.isenabled()


def test_resuming_freezes_what_the_import_built_and_collects_again() -> None:
    cold_start.pause_collection({"AWS_LAMBDA_FUNCTION_NAME": "proxy"})
    cold_start.resume_collection()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_resuming_without_a_pause_changes_nothing() -> None:
    cold_start.resume_collection()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
