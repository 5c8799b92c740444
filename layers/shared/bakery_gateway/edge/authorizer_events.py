"""The authorizer function's events: an HTTP API payload 2.0 event, or a WebSocket ``$connect`` REQUEST event.

Each is read into what ``authentication.authorizer`` judges (a ``Request``, a query token) and its
verdict written back in the answer API Gateway expects: a simple response whose context carries the
verdict for the HTTP API (it never denies: the proxy answers a refusal as a 401 problem), an IAM
policy that denies a refused token for the WebSocket API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakery_gateway.api.identity import Identity, Unauthenticated, Verdict
from bakery_gateway.authentication.authorizer import Authorizer, authorize_http_request
from bakery_gateway.authentication.credentials import QUERY_TOKEN_PARAMETER
from bakery_gateway.edge.lambda_event import request_from_event
from bakery_gateway.telemetry.observability import AUTH_ATTEMPTS


def authorize_http_event(authorizer: Authorizer, event: Mapping[str, Any]) -> dict[str, Any]:
    """Answer an HTTP API (payload 2.0, simple response) authorizer event."""
    verdict = authorize_http_request(authorizer, request_from_event(event))
    return {"isAuthorized": True, "context": verdict.to_context()}


def authorize_websocket_event(authorizer: Authorizer, event: Mapping[str, Any]) -> dict[str, Any]:
    """Answer a WebSocket API ``$connect`` REQUEST authorizer event with an IAM policy.

    Browsers cannot set headers on a WebSocket, so the token comes in the ``token`` query parameter.
    Unlike the HTTP API's, this answer denies a refused token: API Gateway then refuses the
    handshake (403) and ``$connect`` never runs. The context is the identity's, as for HTTP.
    """
    token = ((event.get("queryStringParameters") or {}).get(QUERY_TOKEN_PARAMETER) or "").strip()
    if not token:
        AUTH_ATTEMPTS.labels("failure").inc()
        verdict: Verdict = Unauthenticated("no token in the token query parameter")
    else:
        verdict = authorizer.authorize(token)
    allowed = isinstance(verdict, Identity)
    return {
        "principalId": verdict.user_id if isinstance(verdict, Identity) else "unauthenticated",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allowed else "Deny",
                    "Resource": str(event.get("methodArn", "")),
                }
            ],
        },
        "context": verdict.to_context(),
    }


def handle_event(authorizer: Authorizer, event: Mapping[str, Any]) -> dict[str, Any]:
    """Either API's authorizer event: a WebSocket REQUEST event carries ``methodArn``, an HTTP API
    payload 2.0 event does not (it has ``routeArn``)."""
    if "methodArn" in event:
        return authorize_websocket_event(authorizer, event)
    return authorize_http_event(authorizer, event)
