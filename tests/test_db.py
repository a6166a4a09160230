"""kitteh.db: one engine per database URL per process, and none left holding connections."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from kitteh.db import ENGINES_KEPT, get_engine, get_sessionmaker, transaction


def test_an_engine_pushed_out_of_the_cache_closes_its_connections(tmp_path: Path) -> None:
    # GIVEN an engine that has served a transaction: its pool keeps the connection open
    first_url = f"sqlite:///{tmp_path / 'first.db'}"
    with transaction(first_url) as session:
        session.execute(text("select 1"))
    first = get_engine(first_url)
    assert first.pool.checkedin() == 1

    # WHEN more databases than the cache keeps are used after it
    for n in range(ENGINES_KEPT):
        with transaction(f"sqlite:///{tmp_path / f'other-{n}.db'}") as session:
            session.execute(text("select 1"))

    # THEN the engine pushed out closed its connections (an engine dropped with them open
    # leaves them to the garbage collector: ResourceWarning "unclosed database" on 3.13)
    assert first.pool.checkedin() == 0
    # and the URL gets a new engine, with its sessions bound to that one
    assert get_engine(first_url) is not first
    assert get_sessionmaker(first_url).kw["bind"] is get_engine(first_url)


def test_one_engine_and_sessionmaker_per_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    assert get_engine(url) is get_engine(url)
    assert get_sessionmaker(url) is get_sessionmaker(url)
    assert get_sessionmaker(url).kw["bind"] is get_engine(url)
