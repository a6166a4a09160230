"""A private Kitteh stack on LocalStack and PostgreSQL, shared by this package's tests.

LocalStack may be shared with other test runs (and holds the default buckets of
``make run``), so each run bootstraps buckets and queues of its own, named
``kitteh-it-<random>``, and removes them afterwards. One bucket holds originals and
variants, as by default: the harder case for "writing a variant never re-triggers".

Settings reach the code through the environment, as in production: the app, the
resize handler and the relay thread all read ``Settings.from_env()``. The
environment and the relay live for the whole package (not per test) because the relay
thread runs the handler at any moment; they are undone when the package ends, before
any other test module runs.

Nothing here skips: without LocalStack or PostgreSQL the tests fail and say how to
start them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from kitteh.db import get_engine
from kitteh.migrate import upgrade
from localcloud.harness import environment, localstack_problem, stack_environment
from ops.bootstrap import VISIBILITY_TIMEOUT
from tests.localstack.stack import Stack
from tests.support.postgres import throwaway_database

HOW_TO_START = (
    "run the suite with `make test` (it starts LocalStack), or start it with "
    "`localstack/start.sh` first"
)
#: Real photos shared by the projects' tests (CI checks them out next to this repository).
PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "photos"


@pytest.fixture(scope="package")
def localstack() -> None:
    """Fail (never skip) with the way out when LocalStack's S3 and SQS do not answer."""
    problem = localstack_problem()
    if problem:
        pytest.fail(f"{problem}; {HOW_TO_START}.", pytrace=False)


@pytest.fixture(scope="package")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, dropped after the package."""
    with throwaway_database("kitteh_it") as url:
        upgrade(url)
        yield url
        get_engine(url).dispose()


@pytest.fixture(scope="package")
def stack(localstack: None, database_url: str) -> Iterator[Stack]:
    """Environment, bootstrap and a running relay for the package; all undone after it."""
    run = f"kitteh-it-{uuid.uuid4().hex[:10]}"
    env = stack_environment(run) | {"DATABASE_URL": database_url}
    with environment(env), Stack.running() as stack:
        yield stack


@pytest.fixture(scope="package")
def app(stack: Stack) -> Flask:
    """The app as deployed: built from the environment alone."""
    app = create_app(test_config={"TESTING": True})
    storage = app.extensions["kitteh.storage"]
    _ = storage.client, storage.public_client  # built here, not racing the relay thread
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A fresh browser: its own cookies, hence its own CSRF session."""
    return app.test_client()


@pytest.fixture
def fast_retries(stack: Stack) -> Iterator[None]:
    """Make a failed message visible again at once, so that redrive takes no minutes."""
    stack.set_visibility_timeout(0)
    try:
        yield
    finally:
        stack.set_visibility_timeout(VISIBILITY_TIMEOUT)
        # A failed test must not leave dead letters for the next test to find.
        while messages := stack.sqs.receive_message(
            QueueUrl=stack.dlq_url, MaxNumberOfMessages=10
        ).get("Messages"):
            for message in messages:
                stack.sqs.delete_message(
                    QueueUrl=stack.dlq_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture(scope="package")
def photos() -> Path:
    """The shared real photos; their absence is a broken checkout, not a reason to skip."""
    if not PHOTOS.is_dir():
        pytest.fail(f"the shared photos are missing: {PHOTOS}", pytrace=False)
    return PHOTOS
