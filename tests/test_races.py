"""Deliveries of one event racing each other on PostgreSQL: one winner, no exception escapes.

S3 and SQS deliver at least once, and two deliveries of one event can run at the
same moment in two Lambda containers. Both must end without an error (an error is
a retry and an alarm), with one set of variants recorded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.resize import handler
from kitteh.config import Settings
from kitteh.db import get_engine, transaction
from kitteh.migrate import upgrade
from kitteh.storage import Storage, get_storage
from localcloud.harness import environment, localstack_problem, stack_environment
from localcloud.runtime import LambdaContext
from models import Image, Variant
from tests.support.lambda_events import make_s3_event
from tests.support.postgres import throwaway_database
from tests.support.uploads import grant_key

# LocalStack, not moto: moto's in-memory objects are not safe to overwrite from two
# threads at once ("I/O operation on closed file"), which would hide the race.
pytestmark = [pytest.mark.postgres, pytest.mark.localstack]


@pytest.fixture
def pg_storage() -> Iterator[Storage]:
    """A bucket of its own on LocalStack (no notification: the test delivers), PostgreSQL."""
    problem = localstack_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    run = f"kitteh-race-{uuid.uuid4().hex[:10]}"
    with (
        throwaway_database("kitteh_race") as url,
        environment(stack_environment(run) | {"DATABASE_URL": url}),
    ):
        upgrade(url)
        storage = get_storage(Settings.from_env())
        storage.client.create_bucket(Bucket=run)
        try:
            yield storage
        finally:
            remove_bucket(storage.client, run)
            get_engine(url).dispose()


def remove_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def run_together(count: int, work: Callable[[], Any]) -> list[Any]:
    """Start ``work`` in ``count`` threads at once; return results or the exceptions raised."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_deliveries_of_one_upload_end_with_one_winner(
    pg_storage: Storage, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a granted upload whose object has landed
    settings = pg_storage.settings
    key = grant_key(pg_storage)
    pg_storage.client.put_object(Bucket=settings.bucket, Key=key, Body=photo)
    # AND two deliveries that both get as far as writing variants before either
    # records them: the moment the race is decided
    both_rendered = threading.Barrier(2, timeout=20)
    put_variant = Storage.put_variant
    seen: set[int] = set()

    def put_variant_in_step(self: Storage, *args: Any, **kwargs: Any) -> None:
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            both_rendered.wait()
        put_variant(self, *args, **kwargs)

    monkeypatch.setattr(Storage, "put_variant", put_variant_in_step)
    event = make_s3_event(settings.bucket, key)

    # WHEN both run at once
    results = run_together(2, lambda: handler(event, LambdaContext()))

    # THEN neither raised, both report the image ready, and one set of variants exists
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert [r["processed"][0]["status"] for r in results] == ["ready", "ready"]
    with transaction(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Variant)) == 3
        assert session.scalars(select(Image.status)).all() == ["ready"]


def test_two_deliveries_for_a_key_without_a_row_create_nothing(
    pg_storage: Storage, photo: bytes
) -> None:
    settings = pg_storage.settings
    key = pg_storage.new_original_key()
    pg_storage.client.put_object(Bucket=settings.bucket, Key=key, Body=photo)
    event = make_s3_event(settings.bucket, key)

    results = run_together(2, lambda: handler(event, LambdaContext()))

    assert not [r for r in results if isinstance(r, BaseException)], results
    with transaction(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Image)) == 0
