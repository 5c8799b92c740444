"""A development token issuer: a key pair kept on disk, and access tokens signed with it.

The local runtime trusts this key pair when no ``JWT_PUBLIC_KEY`` is configured, and
``bakery-gateway token`` mints tokens with it from another process; tests and benchmarks use it too.
It is for development only: ``bakery-gateway serve`` and Lambda never create keys.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEV_KEY_ID = "bakery-dev-1"


@dataclass(frozen=True)
class DevKeyPair:
    private_pem: bytes
    public_pem: bytes
    key_id: str = DEV_KEY_ID

    @classmethod
    def generate(cls, key_id: str = DEV_KEY_ID) -> DevKeyPair:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(
            private_pem=private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            public_pem=private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            key_id=key_id,
        )

    @classmethod
    def load_or_create(cls, directory: Path) -> DevKeyPair:
        """The key pair stored in ``directory``, created there on first use (private file 0600)."""
        private_path, public_path = directory / "dev-jwt-private.pem", directory / "dev-jwt-public.pem"
        if private_path.exists() and public_path.exists():
            return cls(private_pem=private_path.read_bytes(), public_pem=public_path.read_bytes())
        pair = cls.generate()
        directory.mkdir(parents=True, exist_ok=True)
        private_path.touch(mode=0o600)
        private_path.write_bytes(pair.private_pem)
        public_path.write_bytes(pair.public_pem)
        return pair

    @cached_property
    def _signing_key(self) -> Any:
        # Parsed once: loading an RSA private key checks it, ~50 ms, far more than signing.
        return serialization.load_pem_private_key(self.private_pem, password=None)

    @property
    def public_keys_json(self) -> str:
        """The public key as the ``JWT_PUBLIC_KEYS`` setting reads it (kid → PEM)."""
        import json

        return json.dumps({self.key_id: self.public_pem.decode()})

    def mint(
        self,
        *,
        user_id: str,
        tenant_id: str | None = None,
        tenant_ids: Iterable[str] | None = None,
        roles: Iterable[str] = ("owner",),
        ttl_seconds: int = 3600,
        token_type: str = "access",  # noqa: S107 - a claim value, not a secret
        extra_claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """An RS256 token with the claims of the brief's token contract."""
        issued_at = int(time.time() if now is None else now)
        tenants = list(tenant_ids) if tenant_ids is not None else ([tenant_id] if tenant_id else [])
        claims: dict[str, Any] = {
            "sub": user_id,
            "tenant_ids": tenants,
            "roles": list(roles),
            "jti": str(uuid.uuid4()),
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
            "type": token_type,
        }
        if tenant_id:
            claims["tenant_id"] = tenant_id
        claims.update(extra_claims or {})
        return jwt.encode(
            claims, self._signing_key, algorithm="RS256", headers={"kid": self.key_id, **(headers or {})}
        )
