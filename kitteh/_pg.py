"""A psycopg connection that never waits for the server longer than a deadline.

``connect_timeout`` bounds connecting and the server's ``statement_timeout`` bounds
statements, but neither helps when the server (or a proxy, or the network) accepts
bytes and goes silent: libpq would wait for the answer forever. psycopg routes every
wait for the server through :meth:`psycopg.Connection.wait`, which takes a timeout
that psycopg itself never passes; this subclass passes one, and closes the
connection when it expires, since its protocol state is unknown from then on.
SQLAlchemy sees a closed connection, discards it from the pool and raises
``OperationalError``. Imported only by engines on the psycopg driver.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from kitteh.db import IO_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

# psycopg's own signal for an expired wait: an OperationalError, private by name.
_WaitTimeout: type[psycopg.OperationalError] = psycopg.errors._WaitTimeout


class ServerSilent(psycopg.OperationalError):
    """The server sent no answer within :data:`~kitteh.db.IO_TIMEOUT_SECONDS`."""


class BoundedConnection(psycopg.Connection[Any]):
    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        deadline = IO_TIMEOUT_SECONDS if timeout is None else timeout
        try:
            return super().wait(gen, interval, deadline)
        except _WaitTimeout as exc:
            log.warning("PostgreSQL sent no answer for %s s; closing the connection", deadline)
            self.pgconn.finish()
            raise ServerSilent(f"PostgreSQL sent no answer within {deadline} s") from exc
