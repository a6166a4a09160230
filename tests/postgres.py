"""Throwaway PostgreSQL databases for tests, on the server named by KITTEH_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("KITTEH_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)


@contextmanager
def throwaway_database(prefix: str = "kitteh_test") -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    server = make_url(server_url())
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {server.render_as_string(hide_password=True)}: "
            f"{exc.orig}. Start it, point KITTEH_TEST_POSTGRES_URL at one, or deselect "
            "these tests with -m 'not postgres'.",
            pytrace=False,
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
