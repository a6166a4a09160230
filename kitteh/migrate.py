"""Schema migrations as a step of their own, never a side effect of start-up.

The migrate Lambda (``handlers.migrate``), ``make migrate`` and the tests all
call :func:`upgrade`. Concurrent runs are serialised for the whole run: on
PostgreSQL by a session-level advisory lock, on SQLite by an exclusive ``flock``
on a file beside the database (SQLite's own write lock is released at every
commit, between revisions, and a second run would then repeat the first one's
DDL). Each revision runs in a transaction (PostgreSQL has transactional DDL), so
a failing migration leaves the schema at the last revision that succeeded.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: The Lambda function that runs :func:`upgrade` on a deployed stage.
MIGRATE_FUNCTION = "handlers.migrate.handler"

#: Any constant works; it only has to be the same for every Kitteh migration run.
_ADVISORY_LOCK_ID = 0x4B177E4


class MigrationError(RuntimeError):
    """A migration failed; the schema stands at ``revision`` (it was at ``from_revision``)."""

    def __init__(self, message: str, *, from_revision: str | None, revision: str | None) -> None:
        super().__init__(message)
        self.from_revision = from_revision
        self.revision = revision


@dataclass(frozen=True)
class MigrationResult:
    from_revision: str | None
    to_revision: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"from": self.from_revision, "to": self.to_revision}


def alembic_config() -> Config:
    config = Config()  # no ini file: logging stays as the caller set it up
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@dataclass(frozen=True)
class SchemaState:
    """The revision a database stands at, and the one the code needs."""

    current: str | None
    head: str | None

    @property
    def problem(self) -> str | None:
        """What is wrong, in the words every check uses; None at the code's head."""
        if self.current == self.head:
            return None
        return f"at revision {self.current or 'none (empty)'}, the code needs {self.head}"


def check_schema(connection: Connection) -> SchemaState:
    """The one schema check: where ``connection``'s database stands against the code's head.

    The caller picks the connection: the health check one of the app's own engine,
    whose deadlines (kitteh.db) bound it and whose pool it proves; the doctor one of
    an engine that creates nothing.
    """
    return SchemaState(current_revision(connection), head_revision())


def migrate_fix(stage: str | None = None) -> str:
    """The command that brings a schema behind the code to its head, as every check says it.

    ``stage``: the deployed stage whose schema it is (``make migrate STAGE=...`` runs
    :data:`MIGRATE_FUNCTION` there); None for the database ``DATABASE_URL`` names here.
    """
    return f"make migrate STAGE={stage}" if stage else "make migrate"


def upgrade(database_url: str, revision: str = "head") -> MigrationResult:
    """Upgrade the database at ``database_url`` to ``revision`` (or downgrade to it).

    :raise MigrationError: a migration failed; ``error.revision`` is where the
        schema stands now.
    """
    config = alembic_config()
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection, _serialised(connection):
            before = current_revision(connection)
            # End our read so that Alembic runs (and commits) each revision in a
            # transaction of its own.
            connection.commit()
            config.attributes["connection"] = connection
            try:
                if _is_downgrade(config, before, revision):
                    command.downgrade(config, revision)
                else:
                    command.upgrade(config, revision)
                connection.commit()
            except Exception as exc:
                connection.rollback()
                now = current_revision(connection)
                raise MigrationError(
                    f"migration to {revision} failed; the schema stays at {now}: {exc}",
                    from_revision=before,
                    revision=now,
                ) from exc
            return MigrationResult(before, current_revision(connection))
    finally:
        engine.dispose()


@contextmanager
def _serialised(connection: Connection) -> Iterator[None]:
    """Hold the lock that makes concurrent migration runs take turns."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
            connection.commit()
        return
    database = connection.engine.url.database
    if connection.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # an in-memory database belongs to one connection: nobody to wait for
        return
    # flock excludes every other open of the file, in this process or another.
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _is_downgrade(config: Config, current: str | None, target: str) -> bool:
    """Tell whether ``target`` lies below ``current`` in the revision history."""
    if current is None or target == "head":
        return False
    if target == "base":
        return True
    scripts = ScriptDirectory.from_config(config)
    target_revision = scripts.get_revision(target)
    if target_revision is None:
        return False
    below_current = {rev.revision for rev in scripts.iterate_revisions(current, "base")}
    return target_revision.revision in below_current and target_revision.revision != current
