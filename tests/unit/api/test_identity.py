"""Identity: the verified caller, and its round trip through the authorizer context."""

from __future__ import annotations

import pytest

from bakery_gateway.api.identity import Identity, Unauthenticated
from tests.support.identities import demo_identity, identity

USER = identity(roles=("admin",))
DEMO_USER = demo_identity()


@pytest.mark.parametrize("identity", [USER, DEMO_USER], ids=["user", "demo"])
def test_an_identity_survives_the_trip_through_the_authorizer_context(identity: Identity) -> None:
    assert Identity.from_context(identity.to_context()) == identity


@pytest.mark.parametrize("identity", [USER, DEMO_USER], ids=["user", "demo"])
def test_the_context_holds_only_strings_numbers_and_booleans(identity: Identity) -> None:
    assert all(isinstance(value, str | int | bool) for value in identity.to_context().values())


def test_a_non_demo_context_names_no_demo_session() -> None:
    context = USER.to_context()

    assert context["is_demo"] is False
    assert "demo_session_id" not in context
    assert "demo_account_type" not in context


def test_a_context_whose_booleans_arrived_as_strings_is_read_the_same() -> None:
    context = {
        key: str(value).lower() if isinstance(value, bool) else value
        for key, value in DEMO_USER.to_context().items()
    }

    assert Identity.from_context(context) == DEMO_USER


def test_a_refusal_becomes_an_unauthenticated_context_with_its_reason() -> None:
    assert Unauthenticated("token expired").to_context() == {
        "authenticated": False,
        "reason": "token expired",
        "problem_type": "invalid-token",
    }
