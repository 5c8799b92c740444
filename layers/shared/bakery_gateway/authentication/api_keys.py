"""API keys of machine-to-machine clients (POS systems, integrations): format, storage, identity.

A key reads ``bk_<id>_<secret>``: ``id`` (16 hex digits) names its record in Redis, so a key is
found in O(1) and can be listed and revoked without its secret; ``secret`` is 256 random bits.
Redis keeps only SHA-256 of the whole key. A slow password hash (bcrypt, scrypt) protects *guessable*
secrets against an offline search; a 256-bit random secret cannot be searched, and the authorizer
checks a key on every cache miss, so one fast hash is the right cost (the same reasoning as
GitHub's and Stripe's keys).

A key acts for one tenant, on a set of services, until an optional expiry, with the role
``integration`` (plus any extra roles given at creation). Downstream it is the principal
``api-key:<id>``; the proxy refuses (403) a call to a service outside its scope.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from bakery_gateway import bounded_json
from bakery_gateway import constants as names
from bakery_gateway.api.identity import Identity
from bakery_gateway.errors import ServiceScopeError

KEY_PREFIX = "bk"
PRINCIPAL_PREFIX = "api-key:"  # X-User-ID of a key's requests, and the handle its revocation uses
KEY_PATTERN = re.compile(r"bk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# 9999-12-31T23:59:59Z: the context's ``exp`` of a key without expiry (the contract wants a number).
NO_EXPIRY = 253_402_300_799
# Names a key's scope may hold: the services behind the proxy, and the gateway's own routes.
GEOCODING_SCOPE = "geocoding"
ALERTS_SCOPE = "alerts"
_SCOPE_OF_SERVICE = {"gateway": ALERTS_SCOPE}  # the route's service label -> the scope name
SCOPE_NAMES = frozenset(
    {service for service in names.SERVICES if service != names.DEMO_SERVICE} | {GEOCODING_SCOPE, ALERTS_SCOPE}
)
# Roles a key may never hold: they administer the gateway or push subscriptions.
PRIVILEGED_ROLES = frozenset({names.PLATFORM_ADMIN_ROLE, names.TENANT_SERVICE_ROLE})


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: the only moment its secret exists outside the client."""

    key_id: str
    key: str

    @property
    def key_hash(self) -> str:
        return key_hash(self.key)


def generate() -> NewKey:
    key_id = secrets.token_hex(8)
    return NewKey(key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key_id(key: str) -> str | None:
    """The id of a well-formed key, else None (a malformed key never reaches Redis)."""
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def principal(key_id: str) -> str:
    return PRINCIPAL_PREFIX + key_id


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What Redis holds of a key (``clients.redis_keyspace.api_key_key``): never the key itself."""

    key_id: str
    key_hash: str
    tenant_id: str
    services: tuple[str, ...]
    roles: tuple[str, ...]
    name: str
    created_at: int
    created_by: str
    expires_at: int | None = None

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.key_hash, key_hash(key))

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_hash(self) -> dict[str, str]:
        return {
            "key_hash": self.key_hash,
            "tenant_id": self.tenant_id,
            "services": json.dumps(list(self.services)),
            "roles": json.dumps(list(self.roles)),
            "name": self.name,
            "created_at": str(self.created_at),
            "created_by": self.created_by,
            "expires_at": str(self.expires_at or 0),
        }

    @classmethod
    def from_hash(cls, key_id: str, fields: Mapping[str, str]) -> ApiKeyRecord:
        """The record; ``ValueError`` (or ``KeyError``) when it is not one of ours."""
        return cls(
            key_id=key_id,
            key_hash=fields["key_hash"],
            tenant_id=fields["tenant_id"],
            services=tuple(str(item) for item in _stored_list(fields["services"])),
            roles=tuple(str(item) for item in _stored_list(fields["roles"])),
            name=fields.get("name", ""),
            created_at=int(fields.get("created_at") or 0),
            created_by=fields.get("created_by", ""),
            expires_at=int(fields.get("expires_at") or 0) or None,
        )

    def to_json(self) -> dict[str, object]:
        """The administration view: everything but the hash."""
        return {
            "id": self.key_id,
            "tenant_id": self.tenant_id,
            "services": list(self.services),
            "roles": list(self.roles),
            "name": self.name,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
        }

    def identity(self) -> Identity:
        """The caller a valid key stands for: the same context, and headers, as a user token's."""
        return Identity(
            user_id=principal(self.key_id),
            tenant_id=self.tenant_id,
            tenant_ids=(self.tenant_id,),
            roles=self.roles,
            jti=principal(self.key_id),
            issued_at=self.created_at,
            expires_at=self.expires_at or NO_EXPIRY,
            api_key_id=self.key_id,
            services=self.services,
        )


def require_in_scope(identity: Identity | None, service: str) -> None:
    """403 when an API key calls a service outside its scope; user tokens are not scoped."""
    if identity is None or identity.services is None:
        return
    scope_name = _SCOPE_OF_SERVICE.get(service, service)
    if scope_name not in identity.services:
        raise ServiceScopeError(
            f"this API key may not call the {scope_name} service",
            extensions={"service": scope_name, "allowed_services": list(identity.services)},
        )


def _stored_list(text: str) -> list[object]:
    """A JSON list of a stored key record; ``ValueError`` when the field holds anything else."""
    value = bounded_json.loads(text, max_bytes=bounded_json.STORED_RECORD_BYTES)
    if not isinstance(value, list):
        raise ValueError("not a JSON list")
    return value
