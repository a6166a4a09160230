"""Database engines, sessions, and the one rule for transactions.

One engine per database URL per process, made on first use: a Lambda container
keeps it warm between invocations, and tests can point at a fresh database by URL.

**Who commits.** Whoever opens a session owns its transaction:

* a handler, a CLI command or a test opens one with :func:`transaction`, which
  commits when the block ends and rolls back if it raises;
* a view gets the request's session (``views.get_session``) and commits what it
  writes; the session is closed when the request ends;
* the core (:mod:`kitteh.images`) works in the session it is given: it adds and
  flushes, and never commits or rolls back the caller's work,

with one named exception, :func:`commit_before_object_exists`: the row of an
original is committed before its object can exist, because S3 may deliver the
object's event to the resize function before the request that stored it returns,
and the function must find the row. The core functions that call it say so; they
are called with a request's session, never inside :func:`transaction`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(database_url: str) -> Engine:
    """Return this process's engine for ``database_url``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    # pre_ping: a Lambda container may sleep for minutes between invocations, long
    # enough for the server (or RDS Proxy) to drop idle connections.
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)


@lru_cache(maxsize=8)
def get_sessionmaker(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(database_url), expire_on_commit=False)


def transaction(database_url: str) -> AbstractContextManager[Session]:
    """Open a session in a transaction: ``with transaction(url) as session:``.

    SQLAlchemy's own ``sessionmaker.begin()``: commits when the block ends, rolls
    back if it raises, and closes the session either way.
    """
    return get_sessionmaker(database_url).begin()


def commit_before_object_exists(session: Session) -> None:
    """Commit an original's row before its object is written, or may be (see above)."""
    session.commit()
