"""Verification of RS256 (and other asymmetric) access tokens, per the brief's token contract."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt.types import Options

from bakery_gateway.demo import VALID_DEMO_ACCOUNT_TYPES, parse_demo_account_type
from bakery_gateway.errors import DemoAccountTypeRefusedError, InvalidTokenError
from bakery_gateway.identity import Identity
from bakery_gateway.keys import DEFAULT_KEY_ID
from bakery_gateway.settings import JwtSettings

# Far above any real access token, far below API Gateway's 10 KB header limit: a cheap early refusal.
MAX_TOKEN_LENGTH = 8192
# JWS compact form (RFC 7515 §7.1): three unpadded base64url segments. PyJWT's decoder also takes
# "=" padding, which would give one token many spellings, e.g. a signature with "==" appended.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti", "type")
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


class TokenVerifier:
    """Verifies access tokens against a fixed set of public keys, chosen by ``kid``."""

    def __init__(
        self, keys: Mapping[str, Any], settings: JwtSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = dict(keys)
        self._settings = settings
        self._clock = clock
        self._options: Options = {
            "require": list(REQUIRED_CLAIMS),
            "verify_aud": settings.audience is not None,
            "verify_iss": settings.issuer is not None,
        }

    @property
    def leeway_seconds(self) -> int:
        return self._settings.leeway_seconds

    def verify(self, token: str) -> Identity:
        """The identity a valid access token carries; ``InvalidTokenError`` for any other token."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("token too long")
        if _COMPACT_JWS.fullmatch(token) is None:
            raise InvalidTokenError("token malformed")
        header = _unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in self._settings.algorithms:
            raise InvalidTokenError("token algorithm not accepted")
        key = self._key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options=self._options,
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("token not yet valid") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("token signature invalid") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidTokenError(f"token lacks the {error.claim} claim") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("token issuer not accepted") from None
        except jwt.PyJWTError:
            raise InvalidTokenError("token malformed") from None
        return self._identity(claims)

    def _key_for(self, kid: object) -> Any:
        if kid is None:
            key = self._keys.get(DEFAULT_KEY_ID)
            if key is None and len(self._keys) == 1:
                key = next(iter(self._keys.values()))
        elif isinstance(kid, str):
            key = self._keys.get(kid)
            if key is None and list(self._keys) == [DEFAULT_KEY_ID]:
                key = self._keys[DEFAULT_KEY_ID]  # one PEM key verifies whatever kid a token names
        else:
            key = None
        if key is None:
            raise InvalidTokenError("token signed with an unknown key")
        return key

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        if claims.get("type") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("not an access token")
        # PyJWT checks iat is a number, not that it lies in the past.
        if int(claims["iat"]) > self._clock() + self._settings.leeway_seconds:
            raise InvalidTokenError("token issued in the future")
        user_id, jti = claims["sub"], claims["jti"]
        if not isinstance(user_id, str) or not user_id or not isinstance(jti, str) or not jti:
            raise InvalidTokenError("token subject or id malformed")
        tenant_id = claims.get("tenant_id")
        tenant_ids = _string_list(claims.get("tenant_ids"), "tenant_ids")
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise InvalidTokenError("token tenant_id malformed")
        if tenant_id and tenant_id not in tenant_ids:
            tenant_ids = (tenant_id, *tenant_ids)
        demo_session_id = None
        demo_account_type = None
        if claims.get("is_demo") is True:
            demo_session_id = claims.get("demo_session_id")
            if not isinstance(demo_session_id, str) or not demo_session_id:
                raise InvalidTokenError("demo token lacks demo_session_id")
            demo_account_type = parse_demo_account_type(claims.get("demo_account_type"))
            if demo_account_type is None:
                raise DemoAccountTypeRefusedError(
                    f"demo_account_type must be one of {', '.join(VALID_DEMO_ACCOUNT_TYPES)}"
                )
        return Identity(
            user_id=user_id,
            tenant_id=tenant_id or None,
            tenant_ids=tenant_ids,
            roles=_string_list(claims.get("roles"), "roles"),
            jti=jti,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            demo_session_id=demo_session_id,
            demo_account_type=demo_account_type,
        )


def _string_list(value: object, claim: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidTokenError(f"token {claim} claim malformed")
    return tuple(value)


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, to pick the key and algorithm; ``jwt.decode`` then verifies it all again.

    Not ``jwt.get_unverified_header``: PyJWT checks each character of all three segments in Python,
    ~150 µs of a ~330 µs verification (bench/README.md, authorizer), and ``jwt.decode`` does that
    again anyway. The token already matched ``_COMPACT_JWS``, so the header is plain base64url.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):  # bad base64, bad UTF-8 or bad JSON
        raise InvalidTokenError("token malformed") from None
    if not isinstance(header, dict) or not isinstance(header.get("kid", ""), str):
        raise InvalidTokenError("token malformed")  # as PyJWT's header checks would refuse it
    return header
