"""A private Kitteh stack for the stack benchmarks: environment, database, bucket, relay.

LocalStack and the PostgreSQL server may be shared with other runs (``make test``,
``make run``, another bench), so everything here is the bench's own and is removed
afterwards: a throwaway database per part, a bucket and queues named
``kitteh-bench-<random>``. Nothing here starts or stops LocalStack (``bench/run.sh``
does, through ``localstack/with-localstack.sh``).

Settings reach the code through the environment, as in production: the app, the
resize handler and the relay thread all read ``Settings.from_env()``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, NullPool, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from handlers.resize import handler
from kitteh.aws import s3_client, sqs_client
from kitteh.bootstrap import bootstrap
from kitteh.config import Settings
from kitteh.db import get_engine
from kitteh.events import s3_objects
from kitteh.migrate import upgrade
from kitteh.relay import EventRelay, lambda_invoker
from kitteh.storage import get_storage

#: Where LocalStack answers (``localstack/start.sh`` puts it there).
LOCALSTACK_URL = os.environ.get("KITTEH_BENCH_LOCALSTACK_URL", "http://127.0.0.1:4566")
#: A database on the PostgreSQL server the bench may connect to as an administrator;
#: the bench's own databases are created next to it.
POSTGRES_ADMIN_URL = os.environ.get(
    "KITTEH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: Long-poll of the relay thread: short, so that stopping it is quick. LocalStack
#: answers a long poll as soon as a message arrives, so this does not add latency.
RELAY_WAIT_SECONDS = 1

#: Settings the developer's shell may hold that would point the bench elsewhere.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "KITTEH_VARIANTS_BUCKET",
    "KITTEH_PUBLIC_ENDPOINT_URL",
    "KITTEH_MEDIA_BASE_URL",
    "KITTEH_CORS_ORIGINS",
    "KITTEH_PRESIGN_EXPIRY",
    "MAX_CONTENT_LENGTH",
    "KITTEH_MAX_PIXELS",
)


def localstack_problem() -> str | None:
    """Why LocalStack's S3 and SQS cannot be used, or None when they can."""
    try:
        with urllib.request.urlopen(f"{LOCALSTACK_URL}/_localstack/health", timeout=3) as r:
            services = json.load(r).get("services", {})
    except (OSError, ValueError) as exc:
        return f"LocalStack does not answer at {LOCALSTACK_URL} ({exc}); run bench/run.sh"
    down = [s for s in ("s3", "sqs") if services.get(s) not in ("running", "available")]
    return f"LocalStack at {LOCALSTACK_URL} does not run {', '.join(down)}" if down else None


def bench_environment(run_name: str) -> dict[str, str | None]:
    """The environment of a stack part: LocalStack, fake keys, this run's names.

    ``test`` keys: LocalStack derives the account from the key, and ``test`` is its
    default account, which the queue policy written by the bootstrap names. Empty
    AWS config files keep a developer's real profile (and keys) out of it.
    """
    empty = os.path.join(tempfile.gettempdir(), f"{run_name}-no-aws-config")
    env: dict[str, str | None] = dict.fromkeys(_CLEARED)
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=empty,
        AWS_SHARED_CREDENTIALS_FILE=empty,
        AWS_ENDPOINT_URL=LOCALSTACK_URL,
        KITTEH_BUCKET=run_name,
        KITTEH_QUEUE=run_name,
        SECRET_KEY=f"{run_name}-secret",
        # The relay logs every delivery and the handler every image at INFO.
        LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables; restore them afterwards.

    The stack part runs inside ``bench.run``'s process, whose later steps must not
    see LocalStack's endpoint or the bench's database.
    """
    saved = {name: os.environ.get(name) for name in values}
    _apply(values)
    get_storage.cache_clear()  # a Storage built from other settings must not be reused
    try:
        yield
    finally:
        _apply(saved)
        get_storage.cache_clear()


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, migrate it to head, yield its URL, drop it."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _create_database(admin, name)
        try:
            upgrade(url)
            yield url
        finally:
            get_engine(url).dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _create_database(admin: Engine, name: str) -> None:
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        where = admin.url.render_as_string(hide_password=True)
        raise RuntimeError(
            f"PostgreSQL is not reachable at {where} (KITTEH_BENCH_POSTGRES_URL): {exc.orig}"
        ) from exc


@dataclass(frozen=True)
class Invocation:
    """One run of the resize function, in ``time.perf_counter()`` seconds."""

    started: float
    ended: float
    error: str | None = None


class TimedInvoker:
    """The relay's ``deliver``: runs the resize function and stamps each key's run.

    Stamps from this process's clock, the one the upload loop uses, split the
    end-to-end time into queue wait and handler time without parsing logs.
    """

    def __init__(self, deliver: Callable[[dict[str, Any]], object]) -> None:
        self._deliver = deliver
        self._runs: dict[str, Invocation] = {}
        self._done = threading.Condition()

    def __call__(self, event: dict[str, Any]) -> object:
        keys = [record.key for record in s3_objects(event)]
        started = time.perf_counter()
        error = None
        try:
            return self._deliver(event)
        except Exception as exc:
            error = repr(exc)
            raise
        finally:
            run = Invocation(started, time.perf_counter(), error)
            with self._done:
                self._runs.update(dict.fromkeys(keys, run))
                self._done.notify_all()

    def wait(self, key: str, timeout: float) -> Invocation:
        """The run for ``key``, waiting for it to end (its commit is visible a bit earlier)."""
        with self._done:
            if not self._done.wait_for(lambda: key in self._runs, timeout):
                raise TimeoutError(f"the resize function never ran for {key}")
            return self._runs[key]


@dataclass
class Cloud:
    """This run's bucket and queues on LocalStack, fed to the resize function by a relay."""

    settings: Settings
    queue_url: str
    dlq_url: str
    invoker: TimedInvoker


@contextmanager
def private_cloud() -> Iterator[Cloud]:
    """Bootstrap this run's bucket and queues, relay their events; remove all afterwards.

    Needs :func:`environment` set up first: everything reads ``Settings.from_env()``.
    """
    settings = Settings.from_env()
    summary = bootstrap(settings)
    cloud = Cloud(
        settings, summary["queue_url"], summary["dlq_url"], TimedInvoker(lambda_invoker(handler))
    )
    sqs = sqs_client(settings)
    try:
        # The handler's S3 client is made now, not inside the first timed delivery.
        _ = get_storage(settings).client
        with EventRelay(sqs, cloud.queue_url, cloud.invoker).running(
            wait_seconds=RELAY_WAIT_SECONDS
        ):
            _wait_until_empty(sqs, cloud.queue_url)  # the s3:TestEvent of the bootstrap
            yield cloud
    finally:
        _remove(settings, sqs, (cloud.queue_url, cloud.dlq_url))


def _wait_until_empty(sqs: Any, queue_url: str, timeout: float = 10) -> None:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
        if all(v == "0" for v in counts["Attributes"].values()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{queue_url} did not empty in {timeout:g} s: is the relay running?")


def _remove(settings: Settings, sqs: Any, queue_urls: tuple[str, ...]) -> None:
    """Delete this run's objects, bucket and queues (never anyone else's)."""
    s3 = s3_client(settings)
    for bucket in dict.fromkeys((settings.bucket, settings.variants_bucket_name)):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
    for url in queue_urls:
        sqs.delete_queue(QueueUrl=url)
