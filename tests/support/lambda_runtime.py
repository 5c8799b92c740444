"""Lambda's life cycle, in process: a cold start from an environment, then invocations on one loop.

A handler module reads its settings and builds its clients at import, as on Lambda. ``cold_start``
sets the environment, forgets the cached settings and clients, and (re)imports the module. Every
invocation then runs on one persistent event loop, as the functions' adapter does on Lambda;
``close`` closes the async clients the handler made on it, so no connection outlives its test.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pytest

from bakery_gateway import constants as names
from bakery_gateway.clients import factories
from bakery_gateway.settings import get_settings

AUTHORIZER_MODULE = "bakery_functions.authorizer.app"
PROXY_MODULE = "bakery_functions.proxy.app"
POLICY_MODULE = "bakery_functions.policy.app"

# Every variable the gateway reads: cleared before a cold start so the host's environment never leaks in.
GATEWAY_VARIABLES = tuple(
    value for key, value in vars(names).items() if key.isupper() and isinstance(value, str) and key == value
) + tuple(names.service_url_variable(service) for service in names.SERVICES)


class LambdaRuntime:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self._async_clients: list[Any] = []
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        original = factories.PerEventLoop

        def tracked(factory: Callable[[], Any]) -> factories.PerEventLoop[Any]:
            def create() -> Any:
                client = factory()
                # Clients only: a module imported while this is in place keeps other per-loop
                # objects in it too (the policy engine's scripts).
                if hasattr(client, "aclose"):
                    self._async_clients.append(client)
                return client

            return original(create)

        monkeypatch.setattr(factories, "PerEventLoop", tracked)

    def cold_start(self, module_name: str, environ: Mapping[str, str]) -> ModuleType:
        """Import ``module_name`` afresh with exactly ``environ`` as the gateway's environment."""
        for variable in GATEWAY_VARIABLES:
            self._monkeypatch.delenv(variable, raising=False)
        for variable, value in environ.items():
            self._monkeypatch.setenv(variable, value)
        get_settings.cache_clear()
        factories.sync_redis.cache_clear()
        if module_name in sys.modules:
            return importlib.reload(sys.modules[module_name])
        return importlib.import_module(module_name)

    def close(self) -> None:
        for client in self._async_clients:
            self.loop.run_until_complete(client.aclose())
        self._async_clients.clear()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        asyncio.set_event_loop(None)
        get_settings.cache_clear()
        factories.sync_redis.cache_clear()
