"""Which tenant a request acts on, and whether its caller may act on it."""

from __future__ import annotations

from bakery_gateway.api.identity import Identity
from bakery_gateway.errors import TenantAccessError


def select_tenant(identity: Identity, path_tenant_id: str | None, header_tenant_id: str | None) -> str | None:
    """The tenant named by the path, else by the client's ``X-Tenant-ID``, else the token's active one.

    The chosen tenant must be one the token lists; it is what ``X-Tenant-ID`` carries downstream.
    """
    chosen = path_tenant_id or header_tenant_id or identity.tenant_id
    if chosen is None:
        return None
    if chosen not in identity.tenant_ids:
        raise TenantAccessError("this account may not act on that tenant", extensions={"tenant_id": chosen})
    return chosen
