"""``bakery-gateway serve``: its configuration checks and how it starts its workers (no Redis, no sockets)."""

from __future__ import annotations

import gc
import os
import resource
from typing import Any

import pytest

from bakery_gateway import cold_start
from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.serve import server as standalone
from bakery_gateway.serve.protocol import GuardedHttpToolsProtocol
from bakery_gateway.serve.server import check_configuration
from bakery_gateway.settings import ServerSettings, Settings
from bakery_local import cli

KEYS = '{"k1": "-----BEGIN PUBLIC KEY-----\\nx\\n-----END PUBLIC KEY-----"}'
CONFIGURED = {names.REDIS_HOST: "redis.internal", names.JWT_PUBLIC_KEYS: KEYS}


def test_configuration_without_redis_host_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^REDIS_HOST: not set; `serve` needs a real Redis"):
        check_configuration({names.JWT_PUBLIC_KEYS: KEYS}, ping_redis=False)


def test_configuration_without_any_public_key_is_refused_naming_the_variables() -> None:
    with pytest.raises(ConfigurationError, match=r"JWT_PUBLIC_KEY / .*no development token"):
        check_configuration({names.REDIS_HOST: "redis.internal"}, ping_redis=False)


def test_configuration_with_a_malformed_setting_is_refused_as_on_lambda() -> None:
    with pytest.raises(ConfigurationError, match=names.REDIS_PORT):
        check_configuration({**CONFIGURED, names.REDIS_PORT: "six"}, ping_redis=False)


def test_a_worker_collects_garbage_again_once_its_functions_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gc, "freeze", lambda: None)  # the test process's objects stay collectable
    cold_start.pause_collection({"AWS_LAMBDA_FUNCTION_NAME": "serve-in-lambda"})
    try:
        app = standalone.build_app(Settings.from_environ(CONFIGURED), ServerSettings(), threads=1)
        app.close()
        assert gc.isenabled()
    finally:
        cold_start.resume_collection()
        gc.enable()


def test_configuration_with_redis_and_keys_is_accepted() -> None:
    settings = check_configuration(CONFIGURED, ping_redis=False)

    assert settings.redis.host == "redis.internal"


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


@pytest.fixture
def uvicorn_run(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    import uvicorn

    recorder = _Recorder()
    monkeypatch.setattr(uvicorn, "run", recorder)
    monkeypatch.setattr(standalone, "_ping", lambda settings: None)
    return recorder


@pytest.fixture
def container_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*cli.KEY_SOURCES, *(names.service_url_variable(s) for s in names.SERVICES)):
        monkeypatch.delenv(name, raising=False)
    for name, value in CONFIGURED.items():
        monkeypatch.setenv(name, value)
    # Unset, and restored after: serve writes them into this process's environment for its workers.
    for name in (standalone.THREADS_VARIABLE, *names.SERVE_VARIABLES):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("container_environment")
def test_serve_runs_the_standalone_factory_in_the_asked_number_of_workers(uvicorn_run: _Recorder) -> None:
    assert cli.main(["serve", "--workers", "3", "--port", "9000", "--graceful-timeout", "5"]) == 0

    [(arguments, options)] = uvicorn_run.calls
    assert arguments == ("bakery_gateway.serve.server:create_app",)
    assert options["factory"] is True
    assert options["workers"] == 3
    assert options["port"] == 9000
    assert options["timeout_graceful_shutdown"] == 5
    assert "reload" not in options


@pytest.mark.usefixtures("container_environment")
def test_serve_defaults_to_one_worker_per_usable_cpu(
    uvicorn_run: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(standalone.WORKERS_VARIABLE, raising=False)

    cli.main(["serve"])

    [(_, options)] = uvicorn_run.calls
    assert options["workers"] == len(os.sched_getaffinity(0))


# --- what a client may hold of a worker (docs/standalone.md) --------------------------------------
def test_the_server_limits_default_to_what_the_docs_state() -> None:
    assert ServerSettings.from_environ({}) == ServerSettings(
        header_timeout_seconds=10.0,
        body_timeout_seconds=60.0,
        max_header_bytes=16 * 1024,
        max_connections=1000,
        cors_origins=(),
        cors_allow_credentials=True,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (names.SERVE_HEADER_TIMEOUT_SECONDS, "soon"),
        (names.SERVE_HEADER_TIMEOUT_SECONDS, "nan"),
        (names.SERVE_BODY_TIMEOUT_SECONDS, "0"),
        (names.SERVE_MAX_HEADER_BYTES, "100"),
        (names.SERVE_MAX_CONNECTIONS, "0"),
    ],
)
def test_a_malformed_server_limit_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{variable}: "):
        ServerSettings.from_environ({variable: value})


@pytest.mark.usefixtures("container_environment")
def test_serve_runs_its_workers_with_the_guarded_protocol(uvicorn_run: _Recorder) -> None:
    cli.main(["serve"])

    [(_, options)] = uvicorn_run.calls
    assert options["http"] is GuardedHttpToolsProtocol


@pytest.mark.usefixtures("container_environment")
def test_serve_flags_become_the_workers_limits_over_the_variables(
    uvicorn_run: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(names.SERVE_MAX_CONNECTIONS, "20")
    monkeypatch.setenv(names.SERVE_BODY_TIMEOUT_SECONDS, "7")
    flags = ["--header-timeout", "3", "--max-header-bytes", "8192", "--max-connections", "50"]

    assert cli.main(["serve", *flags]) == 0

    # What each worker process reads (it inherits this environment).
    assert ServerSettings.from_environ() == ServerSettings(3.0, 7.0, 8192, 50)


@pytest.mark.usefixtures("container_environment")
def test_serve_with_a_malformed_limit_flag_exits_naming_the_variable(
    uvicorn_run: _Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--max-header-bytes", "10"]) == 2

    assert uvicorn_run.calls == []
    assert f"{names.SERVE_MAX_HEADER_BYTES}: 10 is below the minimum" in capsys.readouterr().err


def test_the_open_file_limit_is_raised_for_the_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 65536))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: raised.append(limits))

    standalone.ensure_open_files(1164)

    assert raised == [(1164, 65536)]


def test_connections_beyond_the_hard_open_file_limit_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 1024))

    with pytest.raises(ConfigurationError, match=rf"^{names.SERVE_MAX_CONNECTIONS}: .* limit of 1024"):
        standalone.ensure_open_files(1164)


def test_web_concurrency_sets_the_default_number_of_workers() -> None:
    assert standalone.default_workers({"WEB_CONCURRENCY": "5"}) == 5


def test_a_malformed_web_concurrency_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"^WEB_CONCURRENCY: 'many'"):
        standalone.default_workers({"WEB_CONCURRENCY": "many"})


@pytest.mark.usefixtures("container_environment")
def test_serve_provides_no_development_keys_and_no_sample_services(uvicorn_run: _Recorder) -> None:
    cli.main(["serve"])

    assert os.environ[names.JWT_PUBLIC_KEYS] == KEYS
    assert not [s for s in names.SERVICES if os.environ.get(names.service_url_variable(s))]


@pytest.mark.usefixtures("container_environment")
def test_serve_without_redis_exits_before_starting_any_worker(
    uvicorn_run: _Recorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(names.REDIS_HOST)

    assert cli.main(["serve"]) == 2

    assert uvicorn_run.calls == []
    assert "bakery-gateway serve: REDIS_HOST: not set" in capsys.readouterr().err


@pytest.mark.usefixtures("container_environment")
def test_serve_needs_no_template(
    uvicorn_run: _Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty folder, as a container's working directory may be

    assert cli.main(["serve"]) == 0

    assert len(uvicorn_run.calls) == 1


@pytest.mark.usefixtures("container_environment")
def test_the_librarys_own_entry_point_serves_as_the_cli_does(uvicorn_run: _Recorder) -> None:
    from bakery_gateway.serve.cli import main

    assert main(["--workers", "2", "--port", "9001"]) == 0

    [(arguments, options)] = uvicorn_run.calls
    assert arguments == ("bakery_gateway.serve.server:create_app",)
    assert (options["workers"], options["port"]) == (2, 9001)
