"""Tenant selection: the path's, else X-Tenant-ID's, else the token's tenant; always one the token lists."""

from __future__ import annotations

import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.errors import TenantAccessError
from bakery_gateway.policies.tenancy import select_tenant
from tests.support.identities import identity

USER = identity(issued_at=0, expires_at=1)


@pytest.mark.parametrize(
    ("path_tenant", "header_tenant", "chosen"),
    [
        ("tenant-b", "tenant-a", "tenant-b"),
        (None, "tenant-b", "tenant-b"),
        (None, None, "tenant-a"),
    ],
)
def test_the_path_tenant_wins_then_the_header_then_the_token(
    path_tenant: str | None, header_tenant: str | None, chosen: str
) -> None:
    assert select_tenant(USER, path_tenant, header_tenant) == chosen


@pytest.mark.parametrize(("path_tenant", "header_tenant"), [("tenant-z", None), (None, "tenant-z")])
def test_a_tenant_the_token_does_not_list_is_forbidden(
    path_tenant: str | None, header_tenant: str | None
) -> None:
    with pytest.raises(TenantAccessError) as caught:
        select_tenant(USER, path_tenant, header_tenant)

    assert caught.value.status == 403
    assert caught.value.extensions == {"tenant_id": "tenant-z"}


def test_a_caller_without_tenants_acts_on_none() -> None:
    tenantless = Identity("user-2", None, (), (), "jti", 0, 1)

    assert select_tenant(tenantless, None, None) is None
