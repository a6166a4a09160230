"""PostgreSQL databases for the local stacks, the tests and the benchmarks.

``make run``'s LocalStack stack keeps its records in a database of its own, made
once (:func:`ensure_database`). Tests and benchmarks get a throwaway database
each (:func:`throwaway_database`), created next to the database that
``KITTEH_TEST_POSTGRES_URL`` names on a server they may administer, so that they
can share a server with each other and with ``make run``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, NullPool, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresUnavailable(RuntimeError):
    """The server does not answer, or refuses to create a database."""


def server_url() -> str:
    """The database that throwaway databases are created next to."""
    return os.environ.get("KITTEH_TEST_POSTGRES_URL") or DEFAULT_SERVER_URL


@contextmanager
def throwaway_database(prefix: str = "kitteh_test", server: str | None = None) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards.

    :raise PostgresUnavailable: the server cannot be reached or refuses.
    """
    admin_url = make_url(server or server_url())
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(admin_url.render_as_string(hide_password=False))
    try:
        _execute(admin, f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            _execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database named in ``database_url`` if the server lacks it."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return
    admin = _admin_engine(url.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).first()
        if not exists:
            _execute(admin, f'CREATE DATABASE "{url.database}"')
            log.info("created database %s", url.database)
    finally:
        admin.dispose()


def _admin_engine(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _execute(admin: Engine, statement: str) -> None:
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    except OperationalError as exc:
        where = admin.url.render_as_string(hide_password=True)
        raise PostgresUnavailable(
            f"PostgreSQL at {where} did not take {statement.split()[0]} DATABASE: {exc.orig}. "
            "Start it (pg_ctlcluster ... main start), or point KITTEH_TEST_POSTGRES_URL at one."
        ) from exc
