"""The verdict cache keeps API Gateway's semantics: per authorizer and identity sources, for the TTL."""

from __future__ import annotations

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
