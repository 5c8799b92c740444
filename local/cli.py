"""bakery-gateway: run the gateway locally (or as a production server: serve), mint development
tokens for it, start demo sessions, publish alerts."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from bakery_gateway import constants
from bakery_gateway.api.demo import VALID_DEMO_ACCOUNT_TYPES
from bakery_gateway.api.platform_limits import WEBSOCKET_MESSAGE_BYTES
from bakery_gateway.realtime.alerts.model import SEVERITIES
from bakery_local.demo_client import DEFAULT_GATEWAY_URL
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.server import PROJECT_ROOT, SEPARATE_PROCESSES_VARIABLE, TEMPLATE_VARIABLE, WORKERS_VARIABLE

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

    local = commands.add_parser(
        "local",
        help="serve template.yaml's HTTP API on this machine",
        description="Serve template.yaml's HTTP and WebSocket APIs on this machine, with what they need "
        "started for you (docs/local-runtime.md).",
    )
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    local.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    local.add_argument(
        "--template", type=Path, help="SAM template to serve (default: the project's template.yaml)"
    )
    local.add_argument(
        "--no-reload", action="store_true", help="do not restart on code changes (default: restart)"
    )
    local.add_argument(
        "--workers",
        type=int,
        default=32,
        help="concurrent invocations, as warm Lambda containers (default: %(default)s)",
    )
    local.add_argument(
        "--separate-process",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="run this function (its logical id, e.g. FanoutFunction) in worker processes of its own "
        "(repeatable; default: none, every function in the runtime's process)",
    )

    serve = commands.add_parser("serve", help="the gateway as a production server (docs/standalone.md)")
    # Its options only: the server itself is imported when `serve` runs.
    from bakery_gateway.serve import cli as serve_cli

    serve_cli.add_arguments(serve)

    token = commands.add_parser("token", help="print a development access token the local runtime accepts")
    token.add_argument("--user", required=True, help="user id (sub)")
    token.add_argument("--tenant", help="active tenant id")
    token.add_argument("--tenants", help="comma-separated tenant ids the user may act on")
    token.add_argument("--roles", default="owner", help="comma-separated roles (default: %(default)s)")
    token.add_argument(
        "--ttl", type=int, default=3600, help="seconds until it expires (default: %(default)s)"
    )

    demo = commands.add_parser("demo", help="start a demo session on the running local gateway")
    demo.add_argument("--type", required=True, choices=VALID_DEMO_ACCOUNT_TYPES, dest="account_type")
    demo.add_argument("--url", default=DEFAULT_GATEWAY_URL, help=f"default {DEFAULT_GATEWAY_URL}")
    demo.add_argument("--ttl", type=int, help="seconds the session lasts (default: the service's, 30 min)")

    publish = commands.add_parser("publish", help="send one alert to the running local gateway's ingress")
    publish.add_argument("--tenant", required=True, help="tenant id")
    publish.add_argument("--severity", required=True, choices=SEVERITIES)
    publish.add_argument("--message", required=True)
    publish.add_argument("--type", dest="kind", help="alert type, e.g. low_stock")
    publish.add_argument("--channels", default="", help="comma-separated: email, whatsapp")
    publish.add_argument("--url", default=DEFAULT_GATEWAY_URL, help=f"default {DEFAULT_GATEWAY_URL}")

    arguments = parser.parse_args(argv)
    if arguments.command == "publish":
        return _publish_alert(arguments)
    if arguments.command == "token":
        return _print_token(arguments)
    if arguments.command == "demo":
        return _print_demo_session(arguments)
    if arguments.command == "serve":
        return serve_cli.run(arguments)
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


def _print_demo_session(arguments: argparse.Namespace) -> int:
    from bakery_local.demo_client import DemoCommandError, create_demo_session, session_lines

    try:
        document = create_demo_session(arguments.url, arguments.account_type, arguments.ttl)
    except DemoCommandError as error:
        print(f"bakery-gateway demo: {error}", file=sys.stderr)
        return 1
    print("\n".join(session_lines(document)))
    return 0


def _publish_alert(arguments: argparse.Namespace) -> int:
    from bakery_local.alert_client import PublishCommandError, new_alert, publish

    channels = [item.strip() for item in arguments.channels.split(",") if item.strip()]
    alert = new_alert(arguments.tenant, arguments.severity, arguments.message, arguments.kind, channels)
    try:
        print(publish(arguments.url, alert))
    except PublishCommandError as error:
        print(f"bakery-gateway publish: {error}", file=sys.stderr)
        return 1
    return 0


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def _serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    from bakery_local.serving import (
        GRACEFUL_SHUTDOWN_SECONDS,
        PortUnavailableError,
        RefusalAwareWebSocketProtocol,
        bind_listener,
        run,
    )

    try:  # before anything starts: a second `make run` says so and how to choose another port
        listener = bind_listener(arguments.host, arguments.port)
    except PortUnavailableError as error:
        print(f"bakery-gateway local: {error}", file=sys.stderr)
        return 1
    if arguments.template:
        os.environ[TEMPLATE_VARIABLE] = str(arguments.template.resolve())
    os.environ[WORKERS_VARIABLE] = str(arguments.workers)
    os.environ[SEPARATE_PROCESSES_VARIABLE] = ",".join(arguments.separate_process)
    # None when tokens are verified with configured keys: nothing local can sign one then.
    dev_keys = None if _configured_keys() else DevKeyPair.load_or_create(state_dir())
    started = [*_provide_redis(), *_provide_keys(dev_keys), *_provide_services(dev_keys)]
    _provide_websocket_management_url(arguments.host, arguments.port)
    started += _provide_alert_subscriber()
    reload = not arguments.no_reload
    _say(f"Gateway: http://{arguments.host}:{arguments.port}")
    _say("         restarts on code changes" if reload else "         no reload (--no-reload)")
    try:
        config = uvicorn.Config(
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
            ws=RefusalAwareWebSocketProtocol,
            # API Gateway's WebSocket API negotiates no compression: neither does the local one.
            ws_per_message_deflate=False,
            # Nor does it take a message over 128 KB (closed with 1009): none is buffered beyond it.
            ws_max_size=WEBSOCKET_MESSAGE_BYTES,
            # requestContext's sourceIp is the socket's peer, as API Gateway's is: uvicorn's default
            # trust of X-Forwarded-For from 127.0.0.1 would let any local client pick its address
            # (and, with X-Forwarded-Proto, the scheme the events report).
            proxy_headers=False,
            # Streams end as a reload or Ctrl-C begins (serving.StreamEndingServer); this bounds the rest.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        run(config, listener)
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
    os.environ.pop(constants.REDIS_PASSWORD_SECRET_ID, None)
    _say(f"Redis: embedded (fakeredis) on {redis.host}:{redis.port}; set REDIS_HOST to use a real one")
    return [redis]


def _configured_keys() -> bool:
    return any(os.environ.get(name) for name in KEY_SOURCES)


def _provide_keys(dev_keys: DevKeyPair | None) -> list[_Stoppable]:
    if dev_keys is None:
        _say("Tokens: verified with the configured JWT public keys")
        return []
    os.environ[constants.JWT_PUBLIC_KEYS] = dev_keys.public_keys_json
    _say(f"Tokens: development key pair in {state_dir()}; mint one with")
    _say(f"        {command_path()} token --user demo-user --tenant demo-tenant")
    return []


def command_path() -> str:
    """How to run ``bakery-gateway`` from this shell: its name when PATH finds this installation's,
    else its path (relative when under the working directory: ``.venv/bin/bakery-gateway``)."""
    installed = Path(sys.executable).parent / "bakery-gateway"
    found = shutil.which("bakery-gateway")
    if found and Path(found).resolve() == installed.resolve():
        return "bakery-gateway"
    try:
        return str(installed.relative_to(Path.cwd()))
    except ValueError:
        return str(installed)


def samples_to_start(environ: Mapping[str, str]) -> list[str]:
    """The services the runtime stands in for: the 16 when none is configured, and the demo-session
    service whenever DEMO_SESSION_SERVICE_URL is unset (demo sessions need no real service)."""
    services = [name for name in constants.SERVICES if name != constants.DEMO_SERVICE]
    configured = any(environ.get(constants.service_url_variable(name)) for name in services)
    demo_configured = environ.get(constants.service_url_variable(constants.DEMO_SERVICE))
    return ([] if configured else services) + ([] if demo_configured else [constants.DEMO_SERVICE])


def _provide_services(dev_keys: DevKeyPair | None) -> list[_Stoppable]:
    """Sample services (``samples_to_start``); the demo one writes sessions to the runtime's Redis and
    signs their tokens with ``dev_keys``."""
    from bakery_local.sample_demo_sessions import DemoSessions
    from bakery_local.sample_services import SampleServices

    wanted = samples_to_start(os.environ)
    echoes = [name for name in wanted if name != constants.DEMO_SERVICE]
    if not echoes:
        configured = [
            name for name in constants.SERVICES if os.environ.get(constants.service_url_variable(name))
        ]
        _say(f"Services: {len(configured)} configured by *_SERVICE_URL ({', '.join(configured)})")
    if not wanted:
        return []
    samples = SampleServices(wanted, demo_sessions=DemoSessions(dev_keys))
    samples.start()
    for service, url in samples.urls.items():
        os.environ[constants.service_url_variable(service)] = url
    if echoes:
        _say(f"Services: built-in echo samples for all {len(echoes)} services (no *_SERVICE_URL set)")
    if constants.DEMO_SERVICE in wanted and dev_keys is None:
        _say("Demo sessions: built-in sample service; it cannot sign for configured JWT keys (503)")
    elif constants.DEMO_SERVICE in wanted:
        _say("Demo sessions: built-in sample service; start one with")
        _say(f"        {command_path()} demo --type enterprise")
    return [samples]


# What Lambda's environment always has and boto3 needs to sign a request (here: the fanout function's
# posts to @connections). The local endpoint checks no signature; only the shape matters.
LOCAL_REGION = "eu-west-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
AWS_KEY_SOURCES = (constants.JWT_PUBLIC_KEYS_SSM_PARAMETER, constants.JWT_PUBLIC_KEYS_SECRET_ID)


def _provide_websocket_management_url(host: str, port: int) -> None:
    """The fanout function posts to this runtime's own ``@connections`` unless told otherwise; the
    region and (placeholder) credentials Lambda would give boto3 are set when nothing says otherwise."""
    if os.environ.get(constants.WEBSOCKET_MANAGEMENT_URL):
        url = os.environ[constants.WEBSOCKET_MANAGEMENT_URL]
        _say(f"WebSocket delivery: {url} (WEBSOCKET_MANAGEMENT_URL)")
        return
    os.environ[constants.WEBSOCKET_MANAGEMENT_URL] = f"http://{host}:{port}"
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = LOCAL_REGION
    # Real AWS access (a profile, keys, SSM or Secrets Manager key sources) is left alone.
    uses_aws = any(os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", *AWS_KEY_SOURCES))
    if not uses_aws:
        os.environ.update(LOCAL_CREDENTIALS)
    _say(f"WebSocket delivery: this runtime's @connections at http://{host}:{port}")


def _provide_alert_subscriber() -> list[_Stoppable]:
    """Alerts only PUBLISHed on ``alerts:tenant:{id}`` go down the fanout's path (stored once, posted
    to WebSocket subscribers, notified), from a thread of this process that outlives code reloads."""
    from bakery_gateway.errors import ConfigurationError
    from bakery_gateway.realtime.alerts.subscriber import PATTERN
    from bakery_local.alert_subscriber import LocalAlertSubscriber

    try:
        subscriber = LocalAlertSubscriber()
    except ConfigurationError as error:
        _say(f"Alert subscriber: not started ({error})")
        return []
    subscriber.start()
    _say(f"Alert subscriber: PSUBSCRIBE {PATTERN} (raw publishes stored and delivered like the fanout's)")
    return [subscriber]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
