"""The ``--env-vars`` file of ``sam local start-api``: generated from what was started, never edited.

One ``Parameters`` object, which SAM applies to every function, but only to the variables the template
declares (``Globals.Function.Environment``): nothing here can add a variable, only set one. Values SAM
cannot resolve from the template (``!GetAtt`` of the nested Redis stack, ``!If`` on it) would reach
the functions as empty strings, so every Redis variable is set here. Function containers reach the
host as ``host.docker.internal`` (SAM's ``--add-host``, to the Docker bridge's address).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bakery_gateway import constants as names

CONTAINER_HOST = "host.docker.internal"


def container_url(url: str) -> str:
    """``url`` as a function container reaches it: its host replaced by ``CONTAINER_HOST``."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{CONTAINER_HOST}{port}"))


def function_environment(
    *,
    redis_port: int,
    service_urls: Mapping[str, str],
    key_settings: Mapping[str, str],
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every function's variables: the Redis on the bridge, the services' URLs (as containers reach
    them), the JWT key settings, then ``settings`` (any other declared variable) on top."""
    variables = {
        names.ENVIRONMENT: "dev",
        names.REDIS_HOST: CONTAINER_HOST,
        names.REDIS_PORT: str(redis_port),
        names.REDIS_DB: "0",
        names.REDIS_TLS: "false",
        names.REDIS_PASSWORD_SECRET_ID: "",
        **key_settings,
    }
    for service, url in service_urls.items():
        variables[names.service_url_variable(service)] = url
    variables.update(settings or {})
    return variables


def write_env_vars(path: Path, variables: Mapping[str, str]) -> Path:
    """``path`` holding ``variables`` for every function, as ``--env-vars`` reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Parameters": dict(variables)}, indent=2, sort_keys=True) + "\n")
    return path
