"""The gateway's log formatter: powertools' JSON, with a shorter way for plain records.

Every proxied request writes one record (``request_record``); powertools' formatter copies the
record's attributes, fills its key templates with ``%``, tries to read the message as JSON and looks
for an exception, ~half of the record's CPU. A record with a plain-text message (one JSON cannot
read), no arguments and no exception, under the default key templates and with no context keys, is
rendered here in the same steps without that work; any other record goes to powertools. The same
JSON either way: tests/unit/telemetry/test_log_format_differential.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from aws_lambda_powertools.logging.formatter import (
    RESERVED_LOG_ATTRS,
    LambdaPowertoolsFormatter,
    _get_context,
)

# powertools' default key templates, each filled from the record without ``%``.
_LEVEL, _LOCATION, _TIMESTAMP = "%(levelname)s", "%(funcName)s:%(lineno)d", "%(asctime)s"
_TEMPLATES: Final = frozenset({_LEVEL, _LOCATION, _TIMESTAMP})
# The only texts starting with a letter that JSON reads (powertools would log them as values).
_JSON_WORDS: Final = frozenset({"true", "false", "null", "NaN", "Infinity"})
_RESERVED: Final = frozenset(RESERVED_LOG_ATTRS)


class GatewayLogFormatter(LambdaPowertoolsFormatter):
    """``LambdaPowertoolsFormatter``, rendering plain records directly (module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        if not self._plain(record):
            return super().format(record)
        log: dict[str, Any] = {}
        for key, value in self.log_format.items():
            if value and key in _RESERVED:
                if value == _LEVEL:
                    value = record.levelname
                elif value == _LOCATION:
                    value = f"{record.funcName}:{record.lineno}"
                else:
                    value = self.formatTime(record=record)
            log[key] = value
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                log[key] = value
        log["message"] = record.msg
        # Where powertools puts them: after the extras, and dropped below when None.
        log["exception"] = log.get("exception")
        log["exception_name"] = log.get("exception_name")
        log["exception_notes"] = log.get("exception_notes")
        if self.serialize_stacktrace:
            log["stack_trace"] = None
        log["xray_trace_id"] = self._get_latest_trace_id()
        return self.serialize(log={key: value for key, value in log.items() if value is not None})

    def _plain(self, record: logging.LogRecord) -> bool:
        """Whether powertools' ``format`` would render ``record`` as ``format`` does above."""
        message = record.msg
        if record.args or record.exc_info or record.stack_info or not isinstance(message, str):
            return False
        # Text JSON cannot read: powertools tries, and keeps the text.
        if (
            not message[:1].isalpha()
            or message.rstrip() in _JSON_WORDS
            or self.json_deserializer is not json.loads
        ):
            return False
        templates = (value for key, value in self.log_format.items() if value and key in _RESERVED)
        return (
            all(isinstance(value, str) and value in _TEMPLATES for value in templates)
            and not _get_context().get()
        )
