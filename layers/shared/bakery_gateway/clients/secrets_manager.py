"""Secrets read from AWS Secrets Manager once per container (the Redis AUTH token, the log
pseudonymization key): never in the template, never in a plain environment variable.

A secret is either the value itself or a JSON object holding it under a known field. A failure names
the variable that pointed at the secret and AWS's error code, and is not cached: the next cold start
tries again.
"""

from __future__ import annotations

import json
from functools import lru_cache

from bakery_gateway.errors import ConfigurationError

# A cold start waits for this read: fail in seconds, well inside the functions' timeouts.
_CONNECT_TIMEOUT_SECONDS = 2.0
_READ_TIMEOUT_SECONDS = 2.0


@lru_cache(maxsize=8)
def read_secret(secret_id: str, variable: str, json_field: str) -> str:
    """The value held by ``secret_id`` (``variable`` named it): the secret's ``json_field`` when it
    is JSON, else its whole text. Fetched once per container."""
    import boto3  # lazily: ~170 ms of import, paid only by deployments that use a secret
    from botocore.config import Config

    client = boto3.client(
        "secretsmanager",
        config=Config(
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            read_timeout=_READ_TIMEOUT_SECONDS,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except Exception as error:
        # The error code (AccessDeniedException, ResourceNotFoundException, a timeout's class) says
        # what to fix; the message would only repeat the ARN.
        raise ConfigurationError(
            f"{variable}: secret {secret_id} could not be read: {_error_code(error)}"
        ) from error
    return value_from_secret(str(answer.get("SecretString") or ""), secret_id, variable, json_field)


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)  # botocore's ClientError and its modeled subclasses
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else type(error).__name__


def value_from_secret(text: str, secret_id: str, variable: str, json_field: str) -> str:
    """The value in a secret's text: ``{json_field: "..."}``, or the text itself."""
    value = text.strip()
    if value.startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            document = None
        found = document.get(json_field) if isinstance(document, dict) else None
        if not isinstance(found, str) or not found:
            raise ConfigurationError(
                f"{variable}: secret {secret_id} is JSON without a non-empty {json_field!r} string"
            )
        return found
    if not value:
        raise ConfigurationError(f"{variable}: secret {secret_id} is empty")
    return value
