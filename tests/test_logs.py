"""What the Lambda handlers log: every line of an invocation says which invocation it was.

Each line a handler invocation writes, its own and the core's, carries Powertools'
``function_request_id``, ``cold_start`` and ``function_name``, and ``key`` (and
``name``, once known) while one S3 record is processed; nothing of it outlives the
invocation or the record, or crosses into another thread.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import update

from handlers import maintenance, migrate, resize
from handlers.queues import BatchIncomplete
from kitteh import logs, uploads
from kitteh.config import Settings
from kitteh.db import get_sessionmaker, transaction
from kitteh.storage import Storage
from localcloud.relay import EventRelay
from localcloud.runtime import LambdaContext, lambda_invoker
from models import Image
from tests.support.lambda_events import load_event, make_s3_event, make_sqs_event
from tests.support.uploads import put_original

ROOT = Path(__file__).resolve().parents[1]

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def warm_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh process would: its next invocation is a cold start."""
    monkeypatch.setattr(logs, "_cold_start", logs.ColdStart())


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The JSON lines logged at INFO and above, formatted as on Lambda, parsed."""
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def context(request_id: str = "r-123") -> LambdaContext:
    return LambdaContext(function_name="kitteh-dev", aws_request_id=request_id)


def assert_all_carry(lines: list[dict[str, Any]], request_id: str = "r-123") -> None:
    assert lines, "nothing was logged"
    for line in lines:
        assert line["function_request_id"] == request_id, line
        assert line["function_name"] == "kitteh-dev", line
        assert isinstance(line["cold_start"], bool), line


# Resize ----------------------------------------------------------------------------


def test_a_malformed_event_is_logged_with_the_request_id(lines: Lines) -> None:
    result = resize.handler({"Records": "nope"}, context())

    assert result["malformed"]
    [line] = lines()
    assert line["level"] == "ERROR" and line["logger"] == "handlers.resize"
    assert_all_carry([line])
    assert line["cold_start"] is True


def test_an_s3_event_logs_the_key_and_the_name_with_the_request_id(
    ready_storage: Storage, photo: bytes, lines: Lines
) -> None:
    image = put_original(ready_storage, photo)
    event = make_s3_event(ready_storage.settings.bucket, image.original_key)

    resize.handler(event, context("r-123"))
    first = lines()
    # The repeated event: the core (kitteh.processing) says there is nothing to do
    resize.handler(event, context("r-456"))
    second = lines()[len(first) :]

    assert_all_carry(first, "r-123")
    assert_all_carry(second, "r-456")
    assert all(line["key"] == image.original_key for line in first + second)
    [ready] = [line for line in first if line["logger"] == "handlers.resize"]
    assert ready["name"] == image.name and ready["message"].endswith("is ready")
    assert any(line["logger"] == "kitteh.processing" for line in second), second
    # The first invocation of the process is the cold start, and only that one
    assert {line["cold_start"] for line in first} == {True}
    assert {line["cold_start"] for line in second} == {False}


def test_an_sqs_batch_logs_each_record_with_its_own_key(
    ready_storage: Storage, photo: bytes, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ready_storage.settings
    good, broken = put_original(ready_storage, photo), put_original(ready_storage, photo)
    event = make_sqs_event(
        make_s3_event(settings.bucket, good.original_key),
        make_s3_event(settings.bucket, broken.original_key),
    )
    real_put_variant = Storage.put_variant

    def put_variant(self: Storage, key: str, data: bytes, content_type: str) -> None:
        if key.startswith(self.variant_prefix(broken.original_key)):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "PutObject")
        real_put_variant(self, key, data, content_type)

    monkeypatch.setattr(Storage, "put_variant", put_variant)

    with pytest.raises(BatchIncomplete):
        resize.handler(event, context())

    logged = lines()
    assert_all_carry(logged)
    [ready] = [line for line in logged if line["message"].endswith("is ready")]
    assert (ready["key"], ready["name"]) == (good.original_key, good.name)
    # The broken record's scope ended with its exception: the batch's own lines that
    # follow (the failure, the core's failed delete) name no record
    [failed] = [line for line in logged if "SQS will retry it" in line["message"]]
    assert "key" not in failed and "name" not in failed
    assert any(line["logger"] == "handlers.queues" and "key" not in line for line in logged)


# Maintenance and migrate -------------------------------------------------------------


def test_maintenance_logs_carry_the_request_id_the_core_s_too(
    storage: Storage, database: str, lines: Lines
) -> None:
    # GIVEN an upload link whose browser never posted, an hour past its expiry
    with get_sessionmaker(database)() as session:
        abandoned = uploads.create_presigned_upload(
            session, storage, filename="gone.jpg", content_type="image/jpeg", size=10
        ).image.name
    with transaction(database) as session:
        session.execute(
            update(Image)
            .where(Image.name == abandoned)
            .values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )

    maintenance.handler(load_event("scheduled_event.json"), context())

    logged = lines()
    assert_all_carry(logged)
    assert any(line["logger"] == "kitteh.processing" for line in logged), logged


def test_migrate_logs_carry_the_request_id_alembic_s_too(settings: Settings, lines: Lines) -> None:
    migrate.handler({}, context())

    logged = lines()
    assert_all_carry(logged)
    assert any(line["logger"].startswith("alembic") for line in logged), logged


def test_a_failed_migration_leaves_no_binding_behind(
    settings: Settings, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(url: str, revision: str) -> Any:
        raise migrate.MigrationError("no such revision", from_revision=None, revision=None)

    monkeypatch.setattr(migrate, "upgrade", fail)
    with pytest.raises(migrate.MigrationError):
        migrate.handler({"revision": "nope"}, context())
    logging.getLogger("kitteh.after").warning("between invocations")

    during, after = lines()
    assert_all_carry([during])
    assert not {"function_request_id", "cold_start", "function_name"} & set(after), after


# Bindings --------------------------------------------------------------------------


def test_invocations_side_by_side_in_threads_keep_their_own_fields(lines: Lines) -> None:
    # GIVEN two invocations that log, wait for each other, and log again
    both_logged = threading.Barrier(2, timeout=5)
    log = logging.getLogger("kitteh.test")

    @logs.inject_lambda_context
    def handler(event: dict[str, Any], _context: Any) -> None:
        with logs.log_fields(key=event["key"]):
            log.info("started")
            both_logged.wait()
            log.info("finished")

    threads = [
        threading.Thread(target=handler, args=({"key": f"k-{n}"}, context(f"r-{n}")))
        for n in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # WHEN the thread that ran them logs again, and so does one that ran none
    log.info("outside")

    # THEN each line has the fields of its own invocation, and the outside line none
    *inside, outside = lines()
    assert sorted((line["function_request_id"], line["key"]) for line in inside) == [
        ("r-1", "k-1"),
        ("r-1", "k-1"),
        ("r-2", "k-2"),
        ("r-2", "k-2"),
    ]
    assert sorted(line["cold_start"] for line in inside) == [False, False, True, True]
    assert "function_request_id" not in outside and "key" not in outside


def test_a_nested_scope_ends_with_its_exception(lines: Lines) -> None:
    log = logging.getLogger("kitteh.test")
    with logs.log_fields(key="outer"):
        with pytest.raises(RuntimeError), logs.log_fields(key="inner", name="Fluffy"):
            raise RuntimeError("broken record")
        log.info("after the record")

    [line] = lines()
    assert line["key"] == "outer" and "name" not in line


def test_extra_fields_win_over_bound_ones(lines: Lines) -> None:
    with logs.log_fields(key="bound"):
        logging.getLogger("kitteh.test").info("one line", extra={"key": "given"})

    [line] = lines()
    assert line["key"] == "given"


def test_no_context_binds_nothing(lines: Lines) -> None:
    # make migrate and make reconcile call the handlers with a context of None
    maintenance_like = logs.inject_lambda_context(
        lambda event, ctx: logging.getLogger("kitteh.test").info("done")
    )
    maintenance_like({}, None)

    [line] = lines()
    assert "function_request_id" not in line and "cold_start" not in line


def test_provisioned_concurrency_is_never_a_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    assert logs.ColdStart().take() is False
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    cold_start = logs.ColdStart()
    assert (cold_start.take(), cold_start.take()) == (True, False)


# A fresh interpreter, as on Lambda and locally ------------------------------------------


def invoke_twice_in_a_fresh_process(**env: str) -> list[str]:
    """Stderr lines of two malformed-event invocations of the resize handler, in a new process."""
    script = (
        "from handlers.resize import handler\n"
        "from localcloud.runtime import LambdaContext\n"
        "for request_id in ('r-123', 'r-124'):\n"
        "    handler({}, LambdaContext(function_name='kitteh-dev', aws_request_id=request_id))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("AWS_LAMBDA_FUNCTION_NAME",)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "LOG_LEVEL": "INFO", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr.splitlines()


def test_on_lambda_the_lines_are_json_with_the_context() -> None:
    first, second = invoke_twice_in_a_fresh_process(AWS_LAMBDA_FUNCTION_NAME="kitteh-dev")

    first_line, second_line = json.loads(first), json.loads(second)
    assert first_line["level"] == "ERROR" and first_line["logger"] == "handlers.resize"
    assert (first_line["function_request_id"], first_line["cold_start"]) == ("r-123", True)
    assert (second_line["function_request_id"], second_line["cold_start"]) == ("r-124", False)
    assert first_line["function_name"] == "kitteh-dev"


def test_locally_the_lines_are_plain_with_the_context() -> None:
    first, second = invoke_twice_in_a_fresh_process()

    assert " ERROR handlers.resize: malformed event refused: " in first
    assert first.endswith("[function_request_id=r-123 cold_start=true function_name=kitteh-dev]"), (
        first
    )
    assert "function_request_id=r-124 cold_start=false" in second


# The local relay ---------------------------------------------------------------------


def test_the_relay_s_deliveries_carry_a_request_id_each(
    ready_storage: Storage, photo: bytes, lines: Lines
) -> None:
    from kitteh.aws import sqs_client
    from ops.bootstrap import bootstrap

    settings = ready_storage.settings
    summary = bootstrap(settings)
    relay = EventRelay(sqs_client(settings), summary["queue_url"], lambda_invoker(resize.handler))
    relay.poll_once(wait_seconds=0)  # S3's s3:TestEvent, sent when the notification was set
    first, second = put_original(ready_storage, photo), put_original(ready_storage, photo)

    while relay.poll_once(wait_seconds=0):
        pass

    invocations = [line for line in lines() if line["logger"] != "localcloud.relay"]
    ready = {line["key"]: line for line in invocations if line["message"].endswith("is ready")}
    assert set(ready) == {first.original_key, second.original_key}
    request_ids = {line["function_request_id"] for line in ready.values()}
    assert len(request_ids) == 2 and all(request_ids)
    assert {line["function_name"] for line in ready.values()} == {"kitteh-local"}
