"""The verdict cache keeps API Gateway's semantics: per authorizer and identity sources, for the TTL."""

from __future__ import annotations

import pytest

from bakery_gateway.serve.verdict_cache import VerdictCache

IDENTITY = ("Bearer token-1",)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_verdict_is_kept_until_its_ttl_has_passed() -> None:
    clock = Clock()
    cache: VerdictCache[str] = VerdictCache(clock=clock)
    cache.put("TokenAuthorizer", IDENTITY, authorized=True, context="verdict", ttl=300)

    clock.now += 299.9
    kept = cache.get("TokenAuthorizer", IDENTITY)
    clock.now += 0.1
    gone = cache.get("TokenAuthorizer", IDENTITY)

    assert kept is not None
    assert (kept.authorized, kept.context) == (True, "verdict")
    assert gone is None


def test_a_ttl_of_zero_caches_nothing() -> None:
    cache: VerdictCache[str] = VerdictCache()
    cache.put("StreamTokenAuthorizer", (), authorized=True, context="verdict", ttl=0)

    assert cache.get("StreamTokenAuthorizer", ()) is None


def test_a_denial_is_cached_as_a_denial() -> None:
    cache: VerdictCache[str] = VerdictCache()
    cache.put("TokenAuthorizer", IDENTITY, authorized=False, context="", ttl=300)

    cached = cache.get("TokenAuthorizer", IDENTITY)

    assert cached is not None
    assert cached.authorized is False


def test_verdicts_are_kept_per_authorizer_and_identity_source() -> None:
    cache: VerdictCache[str] = VerdictCache()
    cache.put("TokenAuthorizer", IDENTITY, authorized=True, context="one", ttl=300)

    assert cache.get("OtherAuthorizer", IDENTITY) is None
    assert cache.get("TokenAuthorizer", ("Bearer token-2",)) is None


def test_a_full_cache_drops_expired_verdicts_first_then_the_oldest() -> None:
    clock = Clock()
    cache: VerdictCache[str] = VerdictCache(clock=clock, max_entries=2)
    cache.put("A", ("short",), authorized=True, context="", ttl=1)
    cache.put("A", ("old",), authorized=True, context="", ttl=300)
    clock.now += 2
    cache.put("A", ("new",), authorized=True, context="", ttl=300)  # the expired one makes room
    cache.put("A", ("newer",), authorized=True, context="", ttl=300)  # the oldest makes room

    assert len(cache) == 2
    assert cache.get("A", ("old",)) is None
    assert cache.get("A", ("newer",)) is not None


class Authorizer:
    def __init__(self, *, fails: bool = False) -> None:
        self.asked = 0
        self.fails = fails

    async def __call__(self) -> tuple[bool, str]:
        self.asked += 1
        if self.fails:
            raise RuntimeError("the authorizer failed")
        return True, f"verdict {self.asked}"


async def test_a_judged_verdict_is_asked_once_then_read_from_the_cache() -> None:
    cache: VerdictCache[str] = VerdictCache()
    authorizer = Authorizer()

    first = await cache.judged("TokenAuthorizer", IDENTITY, 300, authorizer)
    second = await cache.judged("TokenAuthorizer", IDENTITY, 300, authorizer)

    assert (first, second, authorizer.asked) == ((True, "verdict 1"), (True, "verdict 1"), 1)


async def test_a_failing_authorizer_is_not_cached() -> None:
    cache: VerdictCache[str] = VerdictCache()
    failing = Authorizer(fails=True)

    for _ in range(2):
        with pytest.raises(RuntimeError):
            await cache.judged("TokenAuthorizer", IDENTITY, 300, failing)

    assert (failing.asked, len(cache)) == (2, 0)
