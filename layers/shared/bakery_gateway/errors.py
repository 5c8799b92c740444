"""Every error the gateway raises. Each ``GatewayError`` knows the problem response it becomes.

The mapping to RFC 9457 responses lives in one place, ``api/problems.py``; raising code only picks the
error and a detail that is safe to show a client (never a token, a secret or a stack trace).
"""

from __future__ import annotations

from collections.abc import Mapping


class ConfigurationError(Exception):
    """A setting is missing or malformed. Raised at cold start; names the variable."""


class ClientDisconnectedError(Exception):
    """The client left (or its connection was closed) before its body was whole: there is no
    request to answer, and a part of a body must never be taken for the whole."""


class FeedUnavailableError(Exception):
    """An alert feed cannot read its tenant's stream (Redis failing): the open streams end, and
    their clients reconnect with ``Last-Event-ID``."""


class GatewayError(Exception):
    """An error that the gateway answers itself, as an RFC 9457 problem."""

    status: int = 500
    problem_type: str = "internal-error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


class InternalError(GatewayError):
    """An error nobody expected: the client learns only the request id to quote."""

    def __init__(self) -> None:
        super().__init__("the gateway failed to handle this request; quote the request id")


class AuthenticationError(GatewayError):
    """The request carries no usable access token (RFC 6750 ``invalid_token``)."""

    status = 401
    problem_type = "invalid-token"
    title = "Invalid or missing access token"
    scheme = "Bearer"  # the challenge's auth scheme (API keys answer with their own)

    def __init__(self, detail: str, *, error: str = "invalid_token") -> None:
        # Quoted-string per RFC 9110: our details are fixed phrases, but never trust that.
        description = detail.replace("\\", "").replace('"', "'")
        challenge = f'{self.scheme} error="{error}", error_description="{description}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class TokenRevokedError(AuthenticationError):
    """The token was revoked (logout) before it expired."""

    problem_type = "token-revoked"
    title = "Access token revoked"


class InvalidTokenError(AuthenticationError):
    """The token failed verification: signature, algorithm, claims or type."""


class InvalidApiKeyError(AuthenticationError):
    """An API key that is malformed, unknown, expired or revoked (docs/api-keys.md)."""

    problem_type = "invalid-api-key"
    title = "Invalid API key"
    scheme = "ApiKey"


class ApiKeyRevokedError(InvalidApiKeyError):
    """The key was revoked; the proxy refuses it even while API Gateway still caches its verdict."""

    problem_type = "api-key-revoked"
    title = "API key revoked"


class DemoAccountTypeRefusedError(InvalidTokenError):
    """A demo token or session with an old or unknown account type: refused, never mapped."""

    problem_type = "invalid-demo-account-type"
    title = "Unknown demo account type"


class BadRequestError(GatewayError):
    status = 400
    problem_type = "bad-request"
    title = "Bad request"


class RouteNotFoundError(GatewayError):
    status = 404
    problem_type = "not-found"
    title = "No such route"


class MethodNotAllowedError(GatewayError):
    status = 405
    problem_type = "method-not-allowed"
    title = "Method not allowed"


class PayloadTooLargeError(GatewayError):
    status = 413
    problem_type = "payload-too-large"
    title = "Request body too large"


class DownstreamUnavailableError(GatewayError):
    """The service refused the connection, is not configured, or could not be reached."""

    status = 503
    problem_type = "service-unavailable"
    title = "Service unavailable"


class DownstreamTimeoutError(GatewayError):
    status = 504
    problem_type = "service-timeout"
    title = "Service timed out"


class BadDownstreamResponseError(GatewayError):
    status = 502
    problem_type = "bad-gateway"
    title = "Invalid answer from service"


class ResponseTooLargeError(GatewayError):
    """The answer is larger than a Lambda function may return (docs/limits.md)."""

    status = 502
    problem_type = "response-too-large"
    title = "Answer too large to return"


class ServiceCircuitOpenError(GatewayError):
    """The service's circuit is open: it failed repeatedly, and the gateway does not call it for now."""

    status = 503
    problem_type = "circuit-open"
    title = "Service temporarily unavailable"


class StateUnavailableError(GatewayError):
    """Shared state (Redis) is needed to answer safely and cannot be reached."""

    status = 503
    problem_type = "state-unavailable"
    title = "Gateway state unavailable"


class TokenKeysUnavailableError(GatewayError):
    """The public keys that verify tokens could not be loaded: no token can be judged for now."""

    status = 503
    problem_type = "token-keys-unavailable"
    title = "Token verification unavailable"


class JsonInputError(ValueError):
    """JSON from outside (a token, a body, a message, an answer) that is malformed, too large or
    nested too deep (``bounded_json``). A ``ValueError``, as ``json``'s own; each reader answers it
    with its own problem."""


class RedisUnavailableError(Exception):
    """A Redis call failed or timed out. Callers decide whether that fails open or closed."""


class KeySourceError(Exception):
    """The JWT public keys could not be loaded from their configured source."""


class TenantAccessError(GatewayError):
    status = 403
    problem_type = "tenant-forbidden"
    title = "Tenant not accessible"


class ServiceScopeError(GatewayError):
    """An API key called a service outside the set it was created for."""

    status = 403
    problem_type = "service-not-in-scope"
    title = "Service not in the API key's scope"


class ForbiddenRoleError(GatewayError):
    """The caller is authenticated but has none of the roles the route needs."""

    status = 403
    problem_type = "forbidden-role"
    title = "Role required"


class SubscriptionRequiredError(GatewayError):
    status = 402
    problem_type = "subscription-required"
    title = "Subscription required"


class ReadOnlyTenantError(GatewayError):
    status = 403
    problem_type = "tenant-read-only"
    title = "Tenant is read-only"


class RateLimitedError(GatewayError):
    status = 429
    problem_type = "rate-limited"
    title = "Too many requests"


class InvalidDemoAccountTypeError(GatewayError):
    """An old or unknown demo account type: refused with the two valid names, never mapped."""

    status = 400
    problem_type = "invalid-demo-account-type"
    title = "Unknown demo account type"


class DemoSessionExpiredError(AuthenticationError):
    """A demo token whose session is gone or over: the frontend can offer a new demo."""

    problem_type = "demo-session-expired"
    title = "Demo session expired"


class DemoOperationForbiddenError(GatewayError):
    status = 403
    problem_type = "demo-operation-forbidden"
    title = "Not available in a demo"


class InvalidAlertError(GatewayError):
    """An alert that cannot be accepted; ``fields`` maps every bad field to what is wrong with it."""

    status = 400
    problem_type = "invalid-alert"
    title = "Invalid alert"

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        detail = "; ".join(f"{name}: {reason}" for name, reason in sorted(self.fields.items()))
        super().__init__(detail, extensions={"invalid_fields": self.fields})


class InvalidGeocodeRequestError(BadRequestError):
    """A geocoding request that cannot be sent; ``fields`` maps every bad field to what is wrong."""

    problem_type = "invalid-geocode-request"
    title = "Invalid geocoding request"

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        detail = "; ".join(f"{name}: {reason}" for name, reason in sorted(self.fields.items()))
        invalid_params = [{"name": name, "reason": reason} for name, reason in sorted(self.fields.items())]
        super().__init__(detail, extensions={"invalid_params": invalid_params})


class GeocodingBusyError(GatewayError):
    """Nominatim's one request per second stays taken longer than a request may wait for it."""

    status = 503
    problem_type = "geocoding-busy"
    title = "Geocoding busy"
