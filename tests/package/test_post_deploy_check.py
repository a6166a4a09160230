"""Zappa's own post-deploy check against the packaged app, before any migration.

After ``zappa deploy`` and every ``zappa update``, Zappa GETs the stage's
``touch_path`` (default ``/``) unless ``touch`` is false, and exits 1 on an answer
>= 500 (cli.py, ``touch_endpoint``). The migrate step comes after it, so on a first
deploy the database is empty, and on an update that ships a new migration the
schema is behind the code. The check must pass in both cases (the smoke test of
``/healthz`` after the migration is what proves the stage healthy), or a first
deploy ends red and a ``set -e`` script never reaches its migrate step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.package.apigw import response_body, rest_event
from tests.package.container import LambdaContainer, StartContainer
from tests.support.postgres import throwaway_database

pytestmark = [pytest.mark.package, pytest.mark.postgres, pytest.mark.localstack]

#: Nothing listens on port 1: a database the code cannot use at all.
UNREACHABLE_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/kitteh?connect_timeout=2"


def zappa_touch_path(config: dict[str, Any]) -> str | None:
    """The path Zappa requests after a deploy or update (None: the check is off)."""
    if not config.get("touch", True):
        return None
    path: str = config.get("touch_path", "/")
    return path


@pytest.fixture(params=["empty database", "unreachable database"])
def unmigrated(
    request: pytest.FixtureRequest, start_container: StartContainer
) -> Iterator[LambdaContainer]:
    """A cold container whose database has no schema yet, or does not answer at all."""
    if request.param == "unreachable database":
        container = start_container(UNREACHABLE_DATABASE)
        yield container
        container.close()
        return
    with throwaway_database("kitteh_pkg") as url:
        container = start_container(url)
        yield container
        container.close()


def test_the_post_deploy_check_passes_before_the_migration(
    unmigrated: LambdaContainer, dev_config: dict[str, Any]
) -> None:
    # GIVEN the stage's settings keep Zappa's check on (a deploy must prove the code runs)
    path = zappa_touch_path(dev_config)
    assert path is not None, "the post-deploy check is off: a broken package would deploy green"

    # WHEN Zappa requests its touch path through API Gateway
    response = unmigrated.invoke(rest_event("GET", path))

    # THEN the answer lets `zappa deploy` / `zappa update` finish
    assert response["statusCode"] < 500, response_body(response)[:300]


def test_health_still_names_the_missing_migration(unmigrated: LambdaContainer) -> None:
    # The smoke test after the migrate step asks /healthz, which must not pass early.
    response = unmigrated.invoke(rest_event("GET", "/healthz"))
    assert response["statusCode"] == 503
    assert json.loads(response_body(response))["status"] == "error"
