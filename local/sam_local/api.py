"""``sam local start-api`` with everything the functions need, started and stopped together.

``start_api`` is used by ``make sam-local`` (``python -m bakery_local.sam_local``) and by the test tier
``tests/sam_local``, so the tier runs exactly what a developer runs:

1. Docker answering: the daemon started (as root) when it is not, and stopped at the end if it was
   started here; function containers an interrupted run left behind are removed.
2. The stand-in Lambda image, built when Docker has none (``lambda_image``).
3. ``sam build --cached`` into ``.aws-sam/`` (the functions run from there: a code change needs a new
   build; the cache keeps the layer's installed dependencies while its requirements are unchanged).
4. On Docker's bridge address, which function containers reach as ``host.docker.internal``: a
   ``redis-server``, and the sample services of ``make run`` (an echo per service, the tenant
   service's subscription answer, the demo-session service, which writes to that Redis). Tokens
   are verified with ``make run``'s development key pair, so ``bakery-gateway token`` mints for both.
5. The ``--env-vars`` file, generated into the state folder (``env_vars``).
6. ``sam local start-api --skip-pull-image --add-host host.docker.internal:<bridge>``, waited for,
   then ``GET /health`` once, so SAM builds its image layer before the first real request.

Leaving the context stops SAM (SIGINT: it removes its containers), removes any container left,
then the services, Redis and Docker (when started here).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bakery_gateway import constants as names
from bakery_local.cli import samples_to_start
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.redis_server import RedisServer
from bakery_local.sam_local import env_vars, lambda_image
from bakery_local.sam_local.docker_daemon import bridge_address, ensure_docker, remove_function_containers
from bakery_local.server import PROJECT_ROOT

SAM = PROJECT_ROOT / ".venv-sam" / "bin" / "sam"
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"  # sam build's output, mounted into function containers
START_SECONDS = 120.0
# The first request builds SAM's image layer (the emulator and the layer on top of the base image).
WARM_UP_SECONDS = 300.0
STOP_SECONDS = 15.0
# sam validate/build need a region, never credentials; nothing here reaches AWS. No telemetry.
SAM_ENVIRONMENT = {"AWS_DEFAULT_REGION": "eu-west-1", "SAM_CLI_TELEMETRY": "0"}
JWT_KEY_VARIABLES = (names.JWT_PUBLIC_KEY, names.JWT_PUBLIC_KEYS)

Say = Callable[[str], None]


@dataclass(frozen=True)
class SamLocalOptions:
    state_dir: Path  # the development key pair (shared with `make run`), logs, the --env-vars file
    host: str = "127.0.0.1"
    port: int = 3000
    # SAM's --warm-containers LAZY: a function's container, made on its first request, serves every
    # later one (one at a time). Without: a new container per request, and SAM rebuilds the image
    # with the local layer for each (~10 s here). README, "sam local start-api".
    warm_containers: bool = True
    build: bool = True
    # Further variables for every function (only those template.yaml declares), e.g. SSE_WAIT_SECONDS.
    settings: Mapping[str, str] = field(default_factory=dict)
    sam_log: Path | None = None  # SAM's output (the functions' logs); None: this process's terminal
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class SamLocalApi:
    url: str
    redis_host: str
    redis_port: int
    env_vars: Path
    process: subprocess.Popen[bytes]

    def wait(self) -> int:
        """Until SAM exits (Ctrl-C)."""
        return self.process.wait()


@contextlib.contextmanager
def start_api(options: SamLocalOptions, say: Say) -> Iterator[SamLocalApi]:
    """Everything above started, in order; all of it stopped on leaving, whatever happened."""
    work = options.state_dir / "sam-local"
    work.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        daemon = ensure_docker(work / "dockerd.log")
        stack.callback(daemon.stop)
        say("Docker: dockerd started here, stopped on exit" if daemon.started_here else "Docker: running")
        stack.callback(remove_function_containers, BUILD_DIR)
        if left := remove_function_containers(BUILD_DIR):
            say(f"Docker: removed {len(left)} function container(s) an earlier run left")
        lambda_image.ensure_image(work / "lambda-image.log", say)
        if options.build:
            _sam_build(work / "sam-build.log", say)
        bridge = bridge_address()

        redis = RedisServer(work, host=bridge).start()
        stack.callback(redis.stop)
        say(f"Redis: redis-server on {bridge}:{redis.port} (the Docker bridge: host.docker.internal)")
        keys, key_settings = _keys(options, say)
        service_urls = _services(stack, bridge, redis.port, keys, options.environ, say)

        variables = env_vars.function_environment(
            redis_port=redis.port,
            service_urls=service_urls,
            key_settings=key_settings,
            settings=options.settings,
        )
        env_file = env_vars.write_env_vars(work / "env.json", variables)
        say(f"Environment: {env_file} (generated: --env-vars of sam local start-api)")

        process = _start_sam(options, env_file, bridge, stack)
        stack.callback(_stop_sam, process)
        url = f"http://{options.host}:{options.port}"
        _wait_until_listening(url, process, options.sam_log)
        started = time.monotonic()
        httpx.get(f"{url}/health", timeout=WARM_UP_SECONDS)
        warm_up = time.monotonic() - started
        say(f"Gateway: {url} (sam local start-api; the first request took {warm_up:.0f} s)")
        yield SamLocalApi(url, bridge, redis.port, env_file, process)


def _sam_build(log_path: Path, say: Say) -> None:
    started = time.monotonic()
    with log_path.open("w") as log:
        done = subprocess.run(  # noqa: S603 - the project's SAM CLI
            [str(SAM), "build", "--cached"],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_sam_environ(),
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed; see {log_path}:\n{log_path.read_text()[-2000:]}")
    say(f"Build: sam build in {time.monotonic() - started:.0f} s (.aws-sam/build)")


def _keys(options: SamLocalOptions, say: Say) -> tuple[DevKeyPair | None, dict[str, str]]:
    """The development key pair of ``make run``, unless JWT_PUBLIC_KEY(S) is set: then those keys."""
    configured = {name: options.environ[name] for name in JWT_KEY_VARIABLES if options.environ.get(name)}
    if configured:
        say(f"Tokens: verified with {', '.join(configured)} from the environment")
        return None, configured
    keys = DevKeyPair.load_or_create(options.state_dir)
    say(f"Tokens: development key pair in {options.state_dir}; mint one with")
    say("        .venv/bin/bakery-gateway token --user u-1 --tenant bakery-1")
    return keys, {names.JWT_PUBLIC_KEYS: keys.public_keys_json}


def _services(
    stack: contextlib.ExitStack,
    bridge: str,
    redis_port: int,
    keys: DevKeyPair | None,
    environ: Mapping[str, str],
    say: Say,
) -> dict[str, str]:
    """Every service's URL as the functions reach it: the configured ones as given, samples for the rest."""
    from bakery_local.sample_demo_sessions import DemoSessions, redis_from_environ
    from bakery_local.sample_services import SampleServices

    urls = {
        service: environ[names.service_url_variable(service)]
        for service in names.SERVICES
        if environ.get(names.service_url_variable(service))
    }
    wanted = samples_to_start(environ)
    if urls:
        say(f"Services: {len(urls)} configured by *_SERVICE_URL, as the containers will call them")
    if wanted:
        bridge_redis = {names.REDIS_HOST: bridge, names.REDIS_PORT: str(redis_port)}
        samples = SampleServices(
            wanted, host=bridge, demo_sessions=DemoSessions(keys, lambda: redis_from_environ(bridge_redis))
        )
        samples.start()
        stack.callback(samples.stop)
        urls.update({service: env_vars.container_url(url) for service, url in samples.urls.items()})
        say(f"Services: built-in samples on {bridge} for {', '.join(wanted)}")
    return urls


def _start_sam(
    options: SamLocalOptions, env_file: Path, bridge: str, stack: contextlib.ExitStack
) -> subprocess.Popen[bytes]:
    command = [
        str(SAM),
        "local",
        "start-api",
        "--env-vars",
        str(env_file),
        "--skip-pull-image",
        "--add-host",
        f"{env_vars.CONTAINER_HOST}:{bridge}",
        "--host",
        options.host,
        "--port",
        str(options.port),
        *(["--warm-containers", "LAZY"] if options.warm_containers else []),
    ]
    output: IO[bytes] | None = None
    if options.sam_log is not None:
        output = stack.enter_context(options.sam_log.open("wb"))
    # A session of its own: this process stops it (SIGINT) once, after Ctrl-C reached only us.
    return subprocess.Popen(  # noqa: S603 - the project's SAM CLI, arguments we built
        command,
        cwd=PROJECT_ROOT,
        env=_sam_environ(),
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )


def _sam_environ() -> dict[str, str]:
    return {**os.environ, **SAM_ENVIRONMENT}


def _wait_until_listening(url: str, process: subprocess.Popen[bytes], log: Path | None) -> None:
    """Until SAM answers anything (a path of no route: no function runs)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"sam local start-api did not start:\n{tail}")
        try:
            httpx.get(f"{url}/_sam_local_ready", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)


def _stop_sam(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (SAM's Ctrl-C: it stops and removes its containers), then SIGTERM, then SIGKILL."""
    for stop in (functools.partial(process.send_signal, signal.SIGINT), process.terminate, process.kill):
        if process.poll() is not None:
            return
        stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_SECONDS)
