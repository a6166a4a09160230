"""Migrations run as their own function, on SQLite and PostgreSQL, never on start-up."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from handlers.migrate import handler
from kitteh import migrate
from localcloud.runtime import LambdaContext
from tests.support.postgres import throwaway_database

HEAD = migrate.head_revision()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with throwaway_database() as url:
            yield url


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_handler_upgrades_from_empty_and_is_idempotent(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    context = LambdaContext()

    first = handler({"command": "handlers.migrate.handler"}, context)
    again = handler({}, context)

    assert first == {"from": None, "to": HEAD}
    assert again == {"from": HEAD, "to": HEAD}
    assert {"images", "variants", "alembic_version"} <= tables(empty_database)


def test_migrate_handler_goes_to_a_given_revision(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    handler(None, LambdaContext())
    assert handler({"revision": "base"}, LambdaContext()) == {"from": HEAD, "to": None}
    assert "images" not in tables(empty_database)
    assert handler({"revision": HEAD}, LambdaContext()) == {"from": None, "to": HEAD}


@pytest.fixture
def migrations_with_a_broken_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """A copy of the migrations with one more revision that fails half-way."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / "9999_broken.py").write_text(
        f'''"""A migration that fails after changing something."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = {HEAD!r}
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("images", sa.Column("doomed", sa.Integer()))
    op.execute("SELECT * FROM no_such_table")


def downgrade():
    pass
'''
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", copy)
    yield


@pytest.mark.postgres
def test_a_failed_migration_keeps_the_last_good_revision(
    migrations_with_a_broken_revision: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with throwaway_database() as url:
        monkeypatch.setenv("DATABASE_URL", url)
        # Raised, not returned: `zappa invoke` exits non-zero only on a function error.
        with pytest.raises(migrate.MigrationError) as failed:
            handler({}, LambdaContext())
        assert failed.value.from_revision is None
        assert failed.value.revision == HEAD  # 0001 committed, 9999 rolled back
        # The message alone says why and where the schema stands (it is all Lambda reports).
        assert "no_such_table" in str(failed.value)
        assert f"the schema stays at {HEAD}" in str(failed.value)
        engine = create_engine(url)
        columns = {c["name"] for c in inspect(engine).get_columns("images")}
        engine.dispose()
        assert "doomed" not in columns


def test_concurrent_migrations_are_serialised(empty_database: str) -> None:
    # GIVEN four runs of the migrate function starting at once on an empty database
    results: list[migrate.MigrationResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate.upgrade(empty_database))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN exactly one run did the work; the others waited and found the schema at head
    assert errors == []
    assert sorted((r.from_revision or "", r.to_revision) for r in results) == [
        ("", HEAD),
        *[(HEAD, HEAD)] * 3,
    ]
    assert {"images", "variants", "alembic_version"} <= tables(empty_database)


def test_the_migrations_make_the_schema_the_models_describe(empty_database: str) -> None:
    # Autogenerate's comparison finds nothing to add, drop or alter: no model change
    # is missing its revision (the parallel revisions are chained at merge).
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from models import Base

    migrate.upgrade(empty_database)
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
