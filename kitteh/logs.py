"""Logging set-up shared by the handlers, the app and the local tools, and the fields of a line.

:func:`configure_logging` sets the root logger's level from ``LOG_LEVEL`` and its
format: on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) every root handler writes each
record as one JSON line (:class:`JsonFormatter`), so CloudWatch Logs Insights can
filter on its fields without parsing prose; elsewhere a handler of its own, if the
root has none, writes plain lines (:class:`PlainFormatter`), its fields at the end.

A line's fields are, after ``level``, ``logger``, ``message`` and ``time`` (and
``trace_id``, Lambda's X-Ray header, when set), those bound where it was logged,
then the record's own ``extra=`` keys, which win over bound ones of the same name:

- :func:`inject_lambda_context` wraps a handler so that every line logged during an
  invocation, by the handler or by the code it calls, carries the fields AWS Lambda
  Powertools' Logger adds from the context: ``function_request_id`` (the context's
  ``aws_request_id``), ``cold_start`` (true for the first invocation this process
  serves, false after, and always false under provisioned concurrency), and
  ``function_name``.
- :func:`log_fields` binds more for a block, such as an image's ``key`` and ``name``
  while one S3 record is processed.

Bindings live in a :class:`contextvars.ContextVar`: they are the logging thread's
own (a thread started meanwhile, or a pool's worker, sees none of them), and each
ends with its block, by return or by exception, restoring the fields from before.
The formatters read them when a record is formatted, which logging does in the
thread that logged it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

#: Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

#: The fields bound in this context; a new mapping per binding, never changed in place.
_bound: ContextVar[Mapping[str, object]] = ContextVar(
    "kitteh_log_fields", default=MappingProxyType({})
)

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields bound where ``record`` was logged, then its ``extra=`` keys."""
    fields: dict[str, Any] = dict(_bound.get())
    fields.update(
        (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
    )
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record: level, logger, message, time, trace id, fields, exception."""

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
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    """:data:`PLAIN_FORMAT`, the fields appended as ``[name=value ...]`` before any traceback."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        fields = _fields(record)
        if not fields:
            return line
        return f"{line} [{' '.join(f'{name}={_plain(value)}' for name, value in fields.items())}]"


def _plain(value: object) -> str:
    # Bare when unambiguous (keys, names, ids); JSON otherwise, as in the JSON lines.
    if isinstance(value, str) and value and not any(c.isspace() or c in '[]="' for c in value):
        return value
    return json.dumps(value, default=str)


@contextmanager
def log_fields(**fields: object) -> Iterator[None]:
    """Add ``fields`` to every line this thread logs until the block ends.

    Blocks nest: an inner one adds to the outer one's fields (the same name: its
    value wins), and its end restores them, whether it returns or raises. Fields
    named like a LogRecord attribute (``name``) can only be bound here: logging
    refuses them as ``extra=``.
    """
    token = _bound.set(MappingProxyType({**_bound.get(), **fields}))
    try:
        yield
    finally:
        _bound.reset(token)


class ColdStart:
    """Answers once per process that it is a cold start, then that it is not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the local relay invokes handlers side by side
        # With provisioned concurrency Lambda initialised the process ahead of any
        # invocation: none of them waited for it (Powertools reports it so too).
        provisioned = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency"
        self._cold = not provisioned

    def take(self) -> bool:
        """True the first time it is asked in this process (never if provisioned), then False."""
        with self._lock:
            cold, self._cold = self._cold, False
        return cold


_cold_start = ColdStart()


def inject_lambda_context[E, R](handler: Callable[[E, Any], R]) -> Callable[[E, Any], R]:
    """Wrap a Lambda handler so that its invocation's lines carry the context's fields.

    ``function_request_id``, ``cold_start`` and ``function_name`` are bound for the
    call (see the module's docstring). A context of None, as ``make migrate`` and
    ``make reconcile`` pass when they call a handler directly, binds nothing and
    leaves the cold start for a real invocation.
    """

    @functools.wraps(handler)
    def invoke(event: E, context: Any) -> R:
        if context is None:
            return handler(event, context)
        with log_fields(
            function_request_id=context.aws_request_id,
            cold_start=_cold_start.take(),
            function_name=context.function_name,
        ):
            return handler(event, context)

    return invoke


_configured = False


def configure_logging() -> None:
    """Set the level from ``LOG_LEVEL`` (INFO by default) and the format for the platform.

    Only the first call in a process does anything. On Lambda every root handler
    (the runtime's) gets :class:`JsonFormatter`; elsewhere, a root logger without
    handlers gets one to stderr with :class:`PlainFormatter`, and handlers someone
    else set up are left as they are.
    """
    global _configured
    if _configured:
        return
    _configured = True
    root = logging.getLogger()
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    if not root.handlers:
        stderr = logging.StreamHandler()
        stderr.setFormatter(PlainFormatter(PLAIN_FORMAT))
        root.addHandler(stderr)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    # botocore at DEBUG logs whole request bodies, uploads included.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
