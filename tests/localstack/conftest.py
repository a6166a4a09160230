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

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from kitteh.bootstrap import VISIBILITY_TIMEOUT, bootstrap
from kitteh.config import Settings
from kitteh.db import get_engine
from kitteh.migrate import upgrade
from kitteh.relay import EventRelay
from kitteh.storage import get_storage
from tests.localstack.stack import Stack
from tests.postgres import throwaway_database

#: Where LocalStack answers; ``make test`` starts it there when nothing does.
ENDPOINT = os.environ.get("KITTEH_TEST_LOCALSTACK_URL", "http://127.0.0.1:4566")
HOW_TO_START = (
    "run the suite with `make test` (it starts LocalStack), or start it with "
    "`localstack/start.sh` first"
)
#: Real photos shared by the projects' tests (CI checks them out next to this repository).
PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "photos"
#: Long-poll of the relay thread: short, so that the package's teardown is quick.
RELAY_WAIT_SECONDS = 1


@pytest.fixture(scope="package")
def localstack() -> None:
    """Fail (never skip) with the way out when LocalStack's S3 and SQS do not answer."""
    try:
        health = requests.get(f"{ENDPOINT}/_localstack/health", timeout=3).json()
    except requests.ConnectionError:
        health = None  # failed outside the handler, so the report has no exception chain
    except (requests.RequestException, ValueError) as exc:
        health = {"error": repr(exc)}
    if not isinstance(health, dict) or "error" in health:
        reason = health["error"] if health else "nothing answers"
        pytest.fail(
            f"LocalStack is not reachable at {ENDPOINT} ({reason}); {HOW_TO_START}.", pytrace=False
        )
    services = health.get("services", {})
    down = [s for s in ("s3", "sqs") if services.get(s) not in ("running", "available")]
    if down:
        pytest.fail(
            f"LocalStack at {ENDPOINT} does not run {', '.join(down)}; {HOW_TO_START}.",
            pytrace=False,
        )


@pytest.fixture(scope="package")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, dropped after the package."""
    with throwaway_database("kitteh_it") as url:
        upgrade(url)
        yield url
        get_engine(url).dispose()


@pytest.fixture(scope="package")
def stack(
    localstack: None, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Environment, bootstrap and a running relay for the package; all undone after it."""
    run = f"kitteh-it-{uuid.uuid4().hex[:10]}"
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_LAMBDA_FUNCTION_NAME",
            "KITTEH_VARIANTS_BUCKET",
            "KITTEH_PUBLIC_ENDPOINT_URL",
            "KITTEH_MEDIA_BASE_URL",
            "MAX_CONTENT_LENGTH",
            "KITTEH_MAX_PIXELS",
        ):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(home / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        # LocalStack derives the account from the key: "test" is its default account,
        # which the queue policy written by the bootstrap names.
        env.setenv("AWS_ACCESS_KEY_ID", "test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "test")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ENDPOINT_URL", ENDPOINT)
        env.setenv("KITTEH_BUCKET", run)
        env.setenv("KITTEH_QUEUE", run)
        env.setenv("DATABASE_URL", database_url)
        env.setenv("SECRET_KEY", "localstack-integration-tests")
        get_storage.cache_clear()
        settings = Settings.from_env()

        stack = Stack(settings, bootstrap(settings))
        relay = EventRelay(stack.sqs, stack.queue_url, stack.invoker)
        try:
            with relay.running(wait_seconds=RELAY_WAIT_SECONDS):
                # Setting up the notification made S3 send an s3:TestEvent; let it pass.
                stack.wait_until_queues_empty(timeout=10)
                yield stack
        finally:
            stack.remove()
            get_storage.cache_clear()


@pytest.fixture(scope="package")
def app(stack: Stack) -> Flask:
    """The app as deployed: built from the environment alone."""
    app = create_app({"TESTING": True})
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
