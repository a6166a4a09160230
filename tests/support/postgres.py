"""Throwaway PostgreSQL databases for tests: :mod:`localcloud.postgres`, failing with the fix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from localcloud import postgres


@contextmanager
def throwaway_database(prefix: str = "kitteh_test") -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards; fail (never skip) if none."""
    try:
        with postgres.throwaway_database(prefix) as url:
            yield url
    except postgres.PostgresUnavailable as exc:
        pytest.fail(f"{exc} Or deselect these tests with -m 'not postgres'.", pytrace=False)
