"""Without Redis: the per-container rate limiter, and last known values that expire."""

from __future__ import annotations

from bakery_gateway.policies.fallback import KnownRevocations, LastKnown, LocalRateLimiter
from bakery_gateway.policies.rules import BucketSpec, Candidate
from bakery_gateway.settings import Scope


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bucket(
    subject: str = "user-1", requests: int = 3, window_seconds: int = 60, *, scope: Scope = Scope.USER
) -> BucketSpec:
    return BucketSpec(scope, subject, "all", (Candidate(None, requests, window_seconds),))


# --- LocalRateLimiter ----------------------------------------------------------------------------
def test_the_local_limiter_allows_the_limit_then_refuses() -> None:
    limiter = LocalRateLimiter(clock=Clock())

    verdicts = [limiter.check([bucket(requests=3)], None)[0] for _ in range(5)]

    assert verdicts == [True, True, True, False, False]


def test_a_limit_of_one_lets_the_first_request_through_whatever_the_clock_reads() -> None:
    # 1720.533...: a reading where (now + window) - window comes back above now in floating point.
    limiter = LocalRateLimiter(clock=Clock(1720.5330533082724))

    verdicts = [limiter.check([bucket(requests=1, window_seconds=600)], None)[0] for _ in range(2)]

    assert verdicts == [True, False]


def test_a_local_refusal_says_how_long_to_wait_for_the_next_request() -> None:
    limiter = LocalRateLimiter(clock=Clock())
    for _ in range(3):
        limiter.check([bucket(requests=3, window_seconds=60)], None)

    allowed, (state,) = limiter.check([bucket(requests=3, window_seconds=60)], None)

    assert not allowed
    assert state.remaining == 0
    assert 19_000 <= state.retry_after_ms <= 20_001  # one interval: 60 s / 3


def test_the_local_limiter_counts_down_what_remains() -> None:
    limiter = LocalRateLimiter(clock=Clock())

    remaining = [limiter.check([bucket(requests=3)], None)[1][0].remaining for _ in range(3)]

    assert remaining == [2, 1, 0]


def test_the_local_limiter_lets_one_more_through_after_one_interval() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock)
    for _ in range(3):
        limiter.check([bucket(requests=3, window_seconds=60)], None)

    clock.advance(20)

    assert limiter.check([bucket(requests=3, window_seconds=60)], None)[0]
    assert not limiter.check([bucket(requests=3, window_seconds=60)], None)[0]


def test_the_local_limiter_keeps_one_budget_per_subject() -> None:
    limiter = LocalRateLimiter(clock=Clock())
    for _ in range(3):
        limiter.check([bucket("user-1")], None)

    assert limiter.check([bucket("user-2")], None)[0]


def test_a_local_refusal_by_one_bucket_consumes_none_of_the_others() -> None:
    limiter = LocalRateLimiter(clock=Clock())
    tenant = bucket("tenant-a", requests=3, scope=Scope.TENANT)
    for _ in range(2):  # user-1 spends its own budget of 2, and 2 of the tenant's 3
        limiter.check([bucket("user-1", requests=2), tenant], None)
    for _ in range(5):  # refused by its own bucket: the tenant's budget must stay untouched
        assert not limiter.check([bucket("user-1", requests=2), tenant], None)[0]

    assert limiter.check([bucket("user-2", requests=2), tenant], None)[0]


def test_the_local_limiter_reports_a_state_per_bucket_in_order() -> None:
    limiter = LocalRateLimiter(clock=Clock())

    _, states = limiter.check([bucket("u", 5, 10), bucket("t", 50, 60, scope=Scope.TENANT)], None)

    assert [(s.scope, s.limit, s.window_ms) for s in states] == [
        (Scope.USER, 5, 10_000),
        (Scope.TENANT, 50, 60_000),
    ]


def test_the_local_limiter_uses_the_candidate_of_the_tenants_plan() -> None:
    limiter = LocalRateLimiter(clock=Clock())
    spec = BucketSpec(Scope.USER, "u", "all", (Candidate("enterprise", 10, 60), Candidate(None, 2, 60)))

    assert limiter.check([spec], "enterprise")[1][0].limit == 10
    assert limiter.check([spec], "starter")[1][0].limit == 2


def test_the_local_limiter_forgets_the_least_recent_buckets_beyond_its_size() -> None:
    limiter = LocalRateLimiter(clock=Clock(), max_buckets=2)
    limiter.check([bucket("a", requests=1)], None)
    limiter.check([bucket("b", requests=1)], None)
    limiter.check([bucket("c", requests=1)], None)

    assert limiter.check([bucket("a", requests=1)], None)[0]  # forgotten: a fresh budget
    assert not limiter.check([bucket("c", requests=1)], None)[0]


# --- LastKnown -----------------------------------------------------------------------------------
def test_a_value_never_seen_is_unknown() -> None:
    assert LastKnown[str](60, clock=Clock()).recall("tenant-a") == (False, None)


def test_a_remembered_value_is_known_within_its_age() -> None:
    clock = Clock()
    last_known = LastKnown[str](60, clock=clock)
    last_known.remember("tenant-a", "read-only")

    clock.advance(60)

    assert last_known.recall("tenant-a") == (True, "read-only")


def test_a_remembered_value_is_unknown_once_older_than_its_age() -> None:
    clock = Clock()
    last_known = LastKnown[str](60, clock=clock)
    last_known.remember("tenant-a", "read-only")

    clock.advance(60.001)

    assert last_known.recall("tenant-a") == (False, None)


def test_remembering_again_restarts_the_age() -> None:
    clock = Clock()
    last_known = LastKnown[str](60, clock=clock)
    last_known.remember("tenant-a", "old")
    clock.advance(50)
    last_known.remember("tenant-a", "new")

    clock.advance(50)

    assert last_known.recall("tenant-a") == (True, "new")


def test_a_remembered_false_is_known_not_missing() -> None:
    last_known = LastKnown[bool](60, clock=Clock())
    last_known.remember("jti-1", False)

    assert last_known.recall("jti-1") == (True, False)


def test_last_known_forgets_the_least_recent_entries_beyond_its_size() -> None:
    last_known = LastKnown[int](60, clock=Clock(), max_entries=2)
    for index, key in enumerate(("a", "b", "c")):
        last_known.remember(key, index)

    assert last_known.recall("a") == (False, None)
    assert last_known.recall("c") == (True, 2)


# --- the revocations a container knows ----------------------------------------------------------------
def test_a_revocation_never_seen_is_not_known() -> None:
    assert not KnownRevocations(clock=lambda: 1000.0).revoked("jti-1")


def test_a_remembered_revocation_is_known_until_its_token_expires_whatever_time_passes() -> None:
    now = [1000.0]
    revocations = KnownRevocations(clock=lambda: now[0])
    revocations.remember("jti-1", until=5000.0)

    now[0] = 4999.0
    assert revocations.revoked("jti-1")
    now[0] = 5000.0
    assert not revocations.revoked("jti-1")


def test_remembering_a_revocation_again_never_shortens_it() -> None:
    now = [1000.0]
    revocations = KnownRevocations(clock=lambda: now[0])
    revocations.remember("jti-1", until=5000.0)
    revocations.remember("jti-1", until=2000.0)

    now[0] = 3000.0
    assert revocations.revoked("jti-1")


def test_known_revocations_forget_the_least_recent_beyond_their_size() -> None:
    revocations = KnownRevocations(clock=lambda: 1000.0, max_entries=2)
    for jti in ("jti-1", "jti-2", "jti-3"):
        revocations.remember(jti, until=5000.0)

    assert [revocations.revoked(jti) for jti in ("jti-1", "jti-2", "jti-3")] == [False, True, True]
