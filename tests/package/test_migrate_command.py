"""The migrate function as ``zappa invoke`` calls it: a ``command`` event.

``zappa invoke dev handlers.migrate.handler`` sends ``{"command":
"handlers.migrate.handler"}``; ``--payload '{"revision": "base"}'`` adds keys to
that same event, and Zappa's handler passes the whole event to the function, which
reads ``revision`` from it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kitteh.migrate import head_revision
from tests.package.container import LambdaContainer, LambdaError, StartContainer
from tests.support.postgres import throwaway_database

pytestmark = [pytest.mark.package, pytest.mark.postgres, pytest.mark.localstack]

MIGRATE = {"command": "handlers.migrate.handler"}


@pytest.fixture
def fresh(start_container: StartContainer) -> Iterator[LambdaContainer]:
    """A cold container on an empty database."""
    with throwaway_database("kitteh_pkg") as url:
        container = start_container(url)
        yield container
        container.close()


def test_migrates_an_empty_database_then_does_nothing(fresh: LambdaContainer) -> None:
    head = head_revision()
    assert fresh.invoke(MIGRATE) == {"from": None, "to": head}
    assert fresh.invoke(MIGRATE) == {"from": head, "to": head}
    assert "Result of handlers.migrate.handler:" in fresh.log()


def test_a_revision_in_the_payload_moves_the_schema_there(fresh: LambdaContainer) -> None:
    head = head_revision()
    fresh.invoke(MIGRATE)
    assert fresh.invoke({**MIGRATE, "revision": "base"}) == {"from": head, "to": None}
    assert fresh.invoke({**MIGRATE, "revision": head}) == {"from": None, "to": head}


def test_a_failed_migration_is_a_function_error_that_says_where_the_schema_stands(
    fresh: LambdaContainer,
) -> None:
    # `zappa invoke` exits non-zero only when Lambda reports a function error, i.e.
    # when the function raised (cli.py: "FunctionError" in the response).
    head = head_revision()
    fresh.invoke(MIGRATE)
    with pytest.raises(LambdaError) as failed:
        fresh.invoke({**MIGRATE, "revision": "no-such-revision"})
    reported = str(failed.value).splitlines()[0]
    assert reported.startswith("MigrationError: migration to no-such-revision failed")
    assert f"the schema stays at {head}" in reported
    assert fresh.invoke(MIGRATE) == {"from": head, "to": head}
