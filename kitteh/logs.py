"""Logging set-up shared by the handlers, the app and the local tools.

On Lambda each record becomes one JSON line, so CloudWatch Logs Insights can
filter on ``level``, ``logger`` or the ``extra`` keys (``key``, ``name``)
without parsing prose. Locally, plain lines read better.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

#: Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
        }
        # Lambda sets the X-Ray trace header of the current invocation here.
        trace_id = os.environ.get("_X_AMZN_TRACE_ID")
        if trace_id:
            entry["trace_id"] = trace_id
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_configured = False


def configure_logging() -> None:
    """Set the level from ``LOG_LEVEL`` (INFO by default) and the format for the platform."""
    global _configured
    if _configured:
        return
    _configured = True
    root = logging.getLogger()
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    # botocore at DEBUG logs whole request bodies, uploads included.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
