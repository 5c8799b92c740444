"""The authorizer's token verifier, built from the public keys at cold start, and kept serving when
they cannot be loaded.

A cold start that cannot load the keys (an SSM parameter or secret that cannot be read, no key
configured, a malformed one) does not fail the import: a failed import makes API Gateway answer a
bare 500 to every request, and Lambda pay a new cold start for each. The failure is logged with what
``authentication/public_keys.py`` says (the source or the variable to fix), every token meanwhile gets a
``TokenKeysUnavailableError`` verdict (a 503 problem from the proxy, docs/resilience.md), and the
keys are loaded again at most every ``RELOAD_INTERVAL_SECONDS``, with one attempt per stored source
so that the request that pays for it stays inside the function's timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from bakery_gateway.api.identity import Identity
from bakery_gateway.authentication.public_keys import load_public_keys
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.errors import ConfigurationError, KeySourceError, TokenKeysUnavailableError
from bakery_gateway.settings import JwtSettings
from bakery_gateway.telemetry.observability import logger

RELOAD_INTERVAL_SECONDS: Final = 5.0
RELOAD_ATTEMPTS: Final = 1  # per stored source, during a request: 1 s connect + 2 s read at most
UNAVAILABLE_DETAIL: Final = "access tokens cannot be verified right now: the gateway cannot load its keys"

KeyLoader = Callable[..., Mapping[str, Any]]


class ColdStartVerifier:
    """A ``TokenVerifier`` over the keys loaded at cold start, or, until they load, a refusal."""

    def __init__(
        self,
        settings: JwtSettings,
        *,
        load_keys: KeyLoader = load_public_keys,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._load_keys = load_keys
        self._clock = clock
        self._reloading = threading.Lock()
        self._verifier: TokenVerifier | None = None
        self._next_load = 0.0
        self._load()  # the cold start's own load: the sources' full attempts, inside Lambda's init time

    @property
    def leeway_seconds(self) -> int:
        return self._settings.leeway_seconds

    @property
    def ready(self) -> bool:
        """Whether the keys are loaded."""
        return self._verifier is not None

    def verify(self, token: str) -> Identity:
        """The token's identity (``InvalidTokenError`` when refused); ``TokenKeysUnavailableError``
        while the keys cannot be loaded."""
        verifier = self._verifier or self._reload()
        if verifier is None:
            raise TokenKeysUnavailableError(UNAVAILABLE_DETAIL)
        return verifier.verify(token)

    def _reload(self) -> TokenVerifier | None:
        # One thread loads; the others answer "unavailable" meanwhile rather than queue behind it.
        if self._clock() < self._next_load or not self._reloading.acquire(blocking=False):
            return None
        try:
            return self._verifier or self._load(attempts=RELOAD_ATTEMPTS)
        finally:
            self._reloading.release()

    def _load(self, **options: Any) -> TokenVerifier | None:
        try:
            keys = self._load_keys(self._settings, **options)
        except (KeySourceError, ConfigurationError) as error:
            self._next_load = self._clock() + RELOAD_INTERVAL_SECONDS
            logger.error(
                "JWT public keys cannot be loaded; tokens are answered 503 until they can",
                extra={"reason": str(error), "retry_in_seconds": RELOAD_INTERVAL_SECONDS},
            )
            return None
        self._verifier = TokenVerifier(keys, self._settings)
        return self._verifier
