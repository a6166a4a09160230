"""Database engines, sessions, and the one rule for transactions.

One engine per database URL per process, made on first use: a Lambda container
keeps it warm between invocations, and tests can point at a fresh database by URL.

**Who commits.** Whoever opens a session owns its transaction:

* a handler, a CLI command or a test opens one with :func:`transaction`, which
  commits when the block ends and rolls back if it raises;
* a view gets the request's session (``views.get_session``) and commits what it
  writes; the session is closed when the request ends;
* the core (:mod:`kitteh.uploads`, :mod:`kitteh.processing`, ...) works in the session
  it is given: it adds and flushes, and never commits or rolls back the caller's work,

with one named exception, :func:`commit_before_object_exists`: the row of an
original is committed before its object can exist, because S3 may deliver the
object's event to the resize function before the request that stored it returns,
and the function must find the row. Its undo belongs to the same exception:
:func:`kitteh.uploads.withdraw_upload` deletes and commits that row again when the
object could not be stored. The core functions that commit say so; they are called
with a request's session, never inside :func:`transaction`.
"""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: Deadlines of every database call (docs/reliability.md has them all in one table).
#: A connection attempt, TCP and start-up handshake included:
CONNECT_TIMEOUT_SECONDS = 2
#: The server cancels any statement running longer (none of ours takes 100 ms), and
#: SQLite gives up waiting for another writer's lock after as long:
STATEMENT_TIMEOUT_SECONDS = 4
#: The client gives up waiting for any answer of the server after this: longer than
#: the statement timeout, so it only fires when the server or the network is gone
#: silent, where no server-side timeout can answer.
IO_TIMEOUT_SECONDS = 5
#: Longest wait for a free connection of the pool.
POOL_TIMEOUT_SECONDS = 3


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _set_statement_timeout(dbapi_connection: Any, _record: Any) -> None:
    # A SET, not the libpq "options" start-up parameter, which poolers such as
    # PgBouncer refuse.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_SECONDS * 1000}")
    dbapi_connection.commit()


def _connect_bounded(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    from kitteh._pg import BoundedConnection  # psycopg is imported only for PostgreSQL

    return BoundedConnection.connect(*cargs, **cparams)


def create_bounded_engine(database_url: str, **options: Any) -> Engine:
    """An engine whose every connection, statement and wait has a deadline.

    ``options`` go to :func:`sqlalchemy.create_engine` (``poolclass``...).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": STATEMENT_TIMEOUT_SECONDS}, **options)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    engine = create_engine(
        url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}, **options
    )
    if url.get_driver_name() == "psycopg":
        event.listen(engine, "do_connect", _connect_bounded)
    event.listen(engine, "connect", _set_statement_timeout)
    return engine


#: Engines kept per process, most recently used first. A Lambda container uses one URL;
#: the tests use many, and an engine pushed out is disposed (its pooled connections
#: closed), never left to the garbage collector with them open.
ENGINES_KEPT = 8
_engines: OrderedDict[str, sessionmaker[Session]] = OrderedDict()
_engines_lock = threading.Lock()


def _new_engine(database_url: str) -> Engine:
    if make_url(database_url).get_backend_name() == "sqlite":
        return create_bounded_engine(database_url)
    # pre_ping: a Lambda container may sleep for minutes between invocations, long
    # enough for the server (or RDS Proxy) to drop idle connections.
    return create_bounded_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
        pool_timeout=POOL_TIMEOUT_SECONDS,
    )


def get_sessionmaker(database_url: str) -> sessionmaker[Session]:
    """Return this process's sessionmaker for ``database_url``, bound to its one engine."""
    with _engines_lock:
        sessions = _engines.pop(database_url, None)
        if sessions is None:
            sessions = sessionmaker(_new_engine(database_url), expire_on_commit=False)
        _engines[database_url] = sessions
        while len(_engines) > ENGINES_KEPT:
            _, evicted = _engines.popitem(last=False)
            evicted.kw["bind"].dispose()
    return sessions


@atexit.register
def dispose_engines() -> None:
    """Close every kept engine's pooled connections (at exit, before the collector would)."""
    with _engines_lock:
        while _engines:
            _engines.popitem()[1].kw["bind"].dispose()


def get_engine(database_url: str) -> Engine:
    """Return this process's engine for ``database_url``."""
    engine: Engine = get_sessionmaker(database_url).kw["bind"]
    return engine


def transaction(database_url: str) -> AbstractContextManager[Session]:
    """Open a session in a transaction: ``with transaction(url) as session:``.

    SQLAlchemy's own ``sessionmaker.begin()``: commits when the block ends, rolls
    back if it raises, and closes the session either way.
    """
    return get_sessionmaker(database_url).begin()


def commit_before_object_exists(session: Session) -> None:
    """Commit an original's row before its object is written, or may be (see above)."""
    session.commit()
