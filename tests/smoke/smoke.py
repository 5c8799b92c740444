"""Smoke test of a running gateway: ``make smoke URL=https://{api}.execute-api.{region}.amazonaws.com``.

Four checks, each printed on one line, exit status 1 when any fails:

1. ``GET /health`` answers 200 with JSON (the proxy function is up; no token involved);
2. a call without a token is refused with 401 (the authorizer is in front);
3. an authenticated call (``--auth-path``, default ``/api/v1/tenants/{tenant}``) is let through:
   not 401/403, and not a gateway failure — except a 503 for a service the stack has no URL for yet,
   which a fresh stack has (it still proves the authorizer, revocation and routing);
4. the alert stream (``GET /api/v1/alerts/stream``) answers ``200 text/event-stream`` and sends an
   ``id:`` line (the policies' Redis round trip and the stream read both worked). Behind API Gateway
   that line comes when the long poll ends (``SSE_WAIT_SECONDS``, default 20 s).

The token: ``--token``, else ``SMOKE_TOKEN``, else one minted with the local runtime's development
key (``bakery-gateway token``'s) when that key exists here — which only a local runtime trusts.
The tenant: ``--tenant``, else the token's ``tenant_id`` claim.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

TOKEN_VARIABLE = "SMOKE_TOKEN"
STREAM_PATH = "/api/v1/alerts/stream"
DEFAULT_AUTH_PATH = "/api/v1/tenants/{tenant}"
DEV_USER = "smoke-user"
DEV_TENANT = "smoke-tenant"


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def check_health(client: httpx.Client) -> Outcome:
    response = client.get("/health")
    try:
        status = response.json().get("status", "?")
    except ValueError:
        return Outcome("health", False, f"{response.status_code}, not JSON")
    return Outcome("health", response.status_code == 200, f"{response.status_code}, status {status}")


def check_refused_without_token(client: httpx.Client, path: str) -> Outcome:
    response = client.get(path)
    return Outcome("no token refused", response.status_code == 401, f"GET {path} -> {response.status_code}")


def check_authenticated_call(client: httpx.Client, path: str, token: str) -> Outcome:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    status = response.status_code
    detail = f"GET {path} -> {status}"
    if status in (401, 403):
        return Outcome("authenticated call", False, f"{detail} {_problem_summary(response)}")
    if status == 503 and "not configured" in _problem_summary(response):
        return Outcome("authenticated call", True, f"{detail} (the service has no URL in this stack yet)")
    return Outcome("authenticated call", status < 500, f"{detail} {_problem_summary(response)}".strip())


def check_alert_stream(client: httpx.Client, token: str, tenant: str | None, wait_seconds: float) -> Outcome:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if tenant:
        headers["X-Tenant-ID"] = tenant
    started = time.monotonic()
    timeout = httpx.Timeout(10.0, read=wait_seconds)
    try:
        with client.stream("GET", STREAM_PATH, headers=headers, timeout=timeout) as response:
            kind = response.headers.get("content-type", "")
            if response.status_code != 200 or not kind.startswith("text/event-stream"):
                response.read()
                return Outcome(
                    "alert stream",
                    False,
                    f"{response.status_code} {kind} {_problem_summary(response)}".strip(),
                )
            for line in response.iter_lines():
                if line.startswith("id:"):
                    elapsed = time.monotonic() - started
                    return Outcome("alert stream", True, f"{line.strip()} after {elapsed:.1f} s")
    except httpx.TimeoutException:
        return Outcome("alert stream", False, f"no id: line within {wait_seconds:.0f} s")
    return Outcome("alert stream", False, "the stream ended without an id: line")


def _problem_summary(response: httpx.Response) -> str:
    """``title: detail`` of a problem document (never the token); empty for anything else."""
    if "json" not in response.headers.get("content-type", ""):
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return ": ".join(str(body[key]) for key in ("title", "detail", "message") if key in body)


def token_tenant(token: str) -> str | None:
    """The ``tenant_id`` claim, read without verifying: only to build the request the gateway verifies."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    tenant = claims.get("tenant_id") if isinstance(claims, dict) else None
    return str(tenant) if tenant else None


def dev_token() -> str | None:
    """A token signed with the local runtime's development key, when that key exists on this machine."""
    try:
        from bakery_local.cli import state_dir
        from bakery_local.dev_tokens import DevKeyPair
    except ImportError:
        return None
    directory = state_dir()
    if not (directory / "dev-jwt-private.pem").exists():
        return None
    keys = DevKeyPair.load_or_create(directory)
    return keys.mint(user_id=DEV_USER, tenant_id=DEV_TENANT, tenant_ids=[DEV_TENANT], ttl_seconds=600)


def run(arguments: argparse.Namespace) -> list[Outcome]:
    token = arguments.token or os.environ.get(TOKEN_VARIABLE) or dev_token()
    base_url = arguments.url.rstrip("/")
    with httpx.Client(base_url=base_url, timeout=arguments.timeout, trust_env=False) as client:
        outcomes = [check_health(client)]
        if not token:
            outcomes.append(
                Outcome("token", False, f"none: pass --token or set {TOKEN_VARIABLE} (an access token)")
            )
            return outcomes
        tenant = arguments.tenant or token_tenant(token)
        path = arguments.auth_path.replace("{tenant}", tenant or DEV_TENANT)
        outcomes.append(check_refused_without_token(client, path))
        outcomes.append(check_authenticated_call(client, path, token))
        outcomes.append(check_alert_stream(client, token, tenant, arguments.stream_seconds))
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smoke", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the HTTP API's base URL (the stack output ApiUrl)")
    parser.add_argument("--token", help=f"an access token (default: ${TOKEN_VARIABLE}, else a dev token)")
    parser.add_argument("--tenant", help="the tenant to act on (default: the token's tenant_id)")
    parser.add_argument("--auth-path", default=DEFAULT_AUTH_PATH, help="the authenticated call's path")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per plain request")
    parser.add_argument(
        "--stream-seconds", type=float, default=35.0, help="how long to wait for the stream's first id:"
    )
    arguments = parser.parse_args(argv)
    outcomes = run(arguments)
    for outcome in outcomes:
        print(outcome.line())
    return 0 if all(outcome.passed for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
