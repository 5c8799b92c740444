"""``bakery-gateway``: run the gateway locally, and mint development tokens for it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bakery_gateway import constants
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.server import PROJECT_ROOT, TEMPLATE_VARIABLE, WORKERS_VARIABLE

STATE_DIR_VARIABLE = "BAKERY_LOCAL_STATE_DIR"
KEY_SOURCES = (
    constants.JWT_PUBLIC_KEY,
    constants.JWT_PUBLIC_KEYS,
    constants.JWT_PUBLIC_KEYS_SSM_PARAMETER,
    constants.JWT_PUBLIC_KEYS_SECRET_ID,
)


def state_dir() -> Path:
    """Where the development key pair lives, shared by ``local`` and ``token``."""
    configured = os.environ.get(STATE_DIR_VARIABLE)
    if configured:
        return Path(configured)
    if (PROJECT_ROOT / "template.yaml").exists():
        return PROJECT_ROOT / ".local-state"
    return Path.home() / ".local" / "state" / "bakery-gateway"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bakery-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="serve template.yaml's HTTP API on this machine")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=8000)
    local.add_argument("--template", type=Path, help="default: the project's template.yaml")
    local.add_argument("--no-reload", action="store_true", help="do not restart on code changes")
    local.add_argument("--workers", type=int, default=32, help="concurrent invocations (Lambda containers)")

    token = commands.add_parser("token", help="print a development access token the local runtime accepts")
    token.add_argument("--user", required=True, help="user id (sub)")
    token.add_argument("--tenant", help="active tenant id")
    token.add_argument("--tenants", help="comma-separated tenant ids the user may act on")
    token.add_argument("--roles", default="owner", help="comma-separated roles")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")

    arguments = parser.parse_args(argv)
    if arguments.command == "token":
        return _print_token(arguments)
    return _serve(arguments)


def _print_token(arguments: argparse.Namespace) -> int:
    keys = DevKeyPair.load_or_create(state_dir())
    tenants = [item.strip() for item in (arguments.tenants or "").split(",") if item.strip()]
    if arguments.tenant and arguments.tenant not in tenants:
        tenants.insert(0, arguments.tenant)
    print(
        keys.mint(
            user_id=arguments.user,
            tenant_id=arguments.tenant,
            tenant_ids=tenants,
            roles=[role.strip() for role in arguments.roles.split(",") if role.strip()],
            ttl_seconds=arguments.ttl,
        )
    )
    return 0


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def _serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    if arguments.template:
        os.environ[TEMPLATE_VARIABLE] = str(arguments.template.resolve())
    os.environ[WORKERS_VARIABLE] = str(arguments.workers)
    started = [*_provide_redis(), *_provide_keys(), *_provide_services()]
    reload = not arguments.no_reload
    _say(f"Gateway: http://{arguments.host}:{arguments.port}")
    _say("         restarts on code changes" if reload else "         no reload (--no-reload)")
    try:
        uvicorn.run(
            "bakery_local.server:create_app",
            factory=True,
            host=arguments.host,
            port=arguments.port,
            reload=reload,
            reload_dirs=[str(PROJECT_ROOT / name) for name in ("functions", "layers", "local")]
            if reload
            else None,
            log_level="warning",
            access_log=False,
            # The function's answer carries the service's own Date and Server headers.
            server_header=False,
            date_header=False,
        )
    finally:
        for service in reversed(started):
            service.stop()
    return 0


def _provide_redis() -> list[_Stoppable]:
    """The configured Redis, else an embedded one on a free port, handed to the handlers by REDIS_*."""
    from bakery_local.embedded_redis import EmbeddedRedis

    if os.environ.get(constants.REDIS_HOST):
        port = os.environ.get(constants.REDIS_PORT, "6379")
        _say(f"Redis: {os.environ[constants.REDIS_HOST]}:{port} (REDIS_HOST)")
        return []
    redis = EmbeddedRedis()
    redis.start()
    os.environ[constants.REDIS_HOST], os.environ[constants.REDIS_PORT] = redis.host, str(redis.port)
    os.environ.pop(constants.REDIS_PASSWORD, None)
    _say(f"Redis: embedded (fakeredis) on {redis.host}:{redis.port}; set REDIS_HOST to use a real one")
    return [redis]


def _provide_keys() -> list[_Stoppable]:
    if any(os.environ.get(name) for name in KEY_SOURCES):
        _say("Tokens: verified with the configured JWT public keys")
        return []
    keys = DevKeyPair.load_or_create(state_dir())
    os.environ[constants.JWT_PUBLIC_KEYS] = keys.public_keys_json
    _say(f"Tokens: development key pair in {state_dir()}; mint one with")
    _say("        bakery-gateway token --user demo-user --tenant demo-tenant")
    return []


def _provide_services() -> list[_Stoppable]:
    from bakery_local.sample_services import SampleServices

    configured = [name for name in constants.SERVICES if os.environ.get(constants.service_url_variable(name))]
    if configured:
        _say(f"Services: {len(configured)} configured by *_SERVICE_URL ({', '.join(configured)})")
        return []
    samples = SampleServices(constants.SERVICES)
    samples.start()
    for service, url in samples.urls.items():
        os.environ[constants.service_url_variable(service)] = url
    _say(f"Services: built-in echo samples for all {len(samples.urls)} services (no *_SERVICE_URL set)")
    return [samples]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
