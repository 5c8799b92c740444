"""``PolicyScript``: EVALSHA by the script's own digest; one shared SCRIPT LOAD when the server lacks it."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from bakery_gateway.policies.rules import BucketSpec, Candidate
from bakery_gateway.policies.script import SCRIPT_SHA, SCRIPT_SOURCE, PolicyKeys, PolicyScript
from bakery_gateway.settings import Scope

KEYS = PolicyKeys(jti=None, tenant_id="tenant-a")
BUCKETS = [BucketSpec(Scope.TENANT, "tenant-a", "all", (Candidate(None, 10, 60),))]


class ScriptServer:
    """A Redis that holds scripts by digest and answers the policy script as a fresh bucket would."""

    def __init__(self, *, holds_script: bool, load_error: Exception | None = None) -> None:
        self.scripts: set[str] = {SCRIPT_SHA} if holds_script else set()
        self.load_error = load_error
        self.calls: list[str] = []

    async def script_load(self, script: str) -> str:
        self.calls.append("SCRIPT LOAD")
        await asyncio.sleep(0)  # the other requests meet NOSCRIPT while this one is on the wire
        if self.load_error is not None:
            raise self.load_error
        sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis's name for a script
        self.scripts.add(sha)
        return sha

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int) -> Any:
        self.calls.append("EVALSHA")
        await asyncio.sleep(0)
        if sha not in self.scripts:
            raise NoScriptError("NOSCRIPT No matching script.")
        # revoked, subscription, its source, read-only, demo alive, allowed; one bucket (scope, limit,
        # window, remaining, reset, retry after); the circuit (state, probe, failures, retry after)
        return [0, None, "cache", None, 0, 1, Scope.TENANT.value, 10, 60_000, 9, 60_000, 0, "closed", 0, 0, 0]


def run_many(script: PolicyScript, count: int) -> list[Any]:
    async def burst() -> list[Any]:
        return await asyncio.gather(
            *(script.run(KEYS, BUCKETS) for _ in range(count)), return_exceptions=True
        )

    return asyncio.run(burst())


def test_the_digest_is_the_one_redis_names_the_script_by() -> None:
    assert hashlib.sha1(SCRIPT_SOURCE.encode()).hexdigest() == SCRIPT_SHA  # noqa: S324


def test_a_script_the_server_holds_runs_in_one_call_from_the_first_request() -> None:
    server = ScriptServer(holds_script=True)

    run_many(PolicyScript(server), 1)

    assert server.calls == ["EVALSHA"]


def test_requests_that_meet_noscript_together_share_one_load_then_each_runs_the_script() -> None:
    server = ScriptServer(holds_script=False)

    answers = run_many(PolicyScript(server), 20)

    assert not [answer for answer in answers if isinstance(answer, BaseException)]
    assert server.calls.count("SCRIPT LOAD") == 1
    assert server.calls.count("EVALSHA") == 40  # each: NOSCRIPT, then the script


def test_a_failed_load_fails_every_request_that_waited_for_it() -> None:
    server = ScriptServer(holds_script=False, load_error=RedisConnectionError("connection refused"))

    answers = run_many(PolicyScript(server), 5)

    assert all(isinstance(answer, RedisConnectionError) for answer in answers)
    assert server.calls.count("SCRIPT LOAD") == 1


def test_after_a_failed_load_the_next_request_loads_again() -> None:
    server = ScriptServer(holds_script=False, load_error=RedisConnectionError("connection refused"))
    script = PolicyScript(server)
    run_many(script, 3)

    server.load_error = None
    answers = run_many(script, 1)

    assert not isinstance(answers[0], BaseException)
    assert server.calls.count("SCRIPT LOAD") == 2


def test_a_server_that_forgot_the_script_gets_it_again() -> None:
    server = ScriptServer(holds_script=True)
    script = PolicyScript(server)
    run_many(script, 1)

    server.scripts.clear()  # a failover to a fresh replica
    answers = run_many(script, 2)

    assert not [answer for answer in answers if isinstance(answer, BaseException)]
    assert server.calls.count("SCRIPT LOAD") == 1


@pytest.mark.parametrize("count", [1, 3])
def test_each_request_gets_its_snapshot(count: int) -> None:
    answers = run_many(PolicyScript(ScriptServer(holds_script=False)), count)

    assert [answer.buckets[0].remaining for answer in answers] == [9] * count
