"""Events the resize function must not turn into images, and events it cannot read.

S3 delivers at least once and anyone who can invoke the function can send it
anything: an event names a key, but only a key the app granted (a row committed
before its object could exist) may become an image. Nothing is ever adopted.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from handlers import queues
from handlers.resize import handler
from kitteh.db import transaction
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import make_s3_event, make_sqs_event
from tests.support.uploads import grant_key, images_in, put_original

CONTEXT = LambdaContext()


def test_an_event_for_a_key_with_no_row_and_no_object_creates_nothing(
    ready_storage: Storage,
) -> None:
    settings = ready_storage.settings
    key = ready_storage.new_original_key()

    result = handler(make_s3_event(settings.bucket, key), CONTEXT)

    assert result["processed"] == [
        {"key": key, "status": "ignored", "error": result["processed"][0]["error"]}
    ]
    assert images_in(settings) == []


def test_an_object_the_app_never_granted_is_not_adopted(
    ready_storage: Storage, photo: bytes
) -> None:
    # GIVEN a picture put straight into the originals prefix (a script, `aws s3 cp`)
    settings = ready_storage.settings
    key = f"{settings.originals_prefix}from-the-cli.jpg"
    ready_storage.client.put_object(Bucket=settings.bucket, Key=key, Body=photo)

    # WHEN its event arrives
    [outcome] = handler(make_s3_event(settings.bucket, key), CONTEXT)["processed"]

    # THEN no image is made of it (no name nobody asked for), and it is left alone
    assert outcome["status"] == "ignored"
    assert images_in(settings) == []
    assert ready_storage.has_original(key)


def test_an_upload_whose_grant_was_withdrawn_is_removed_with_its_variants(
    ready_storage: Storage, photo: bytes
) -> None:
    # GIVEN an object at a key of the app's own making whose row is gone (its upload
    # was answered "failed" and taken back), and a variant a crashed run left behind
    settings = ready_storage.settings
    key = ready_storage.new_original_key()
    ready_storage.client.put_object(Bucket=settings.bucket, Key=key, Body=photo)
    leftover = ready_storage.variant_key(key, "tiny", "jpg")
    ready_storage.put_variant(leftover, b"half-done", "image/jpeg")

    # WHEN its event arrives
    [outcome] = handler(make_s3_event(settings.bucket, key), CONTEXT)["processed"]

    # THEN the object and what was made of it are deleted: no ghost, no orphan
    assert outcome["status"] == "ignored"
    assert images_in(settings) == []
    assert not ready_storage.has_original(key)
    listed = ready_storage.client.list_objects_v2(Bucket=settings.variants_bucket_name)
    assert listed.get("KeyCount", 0) == 0


def test_a_granted_key_still_becomes_an_image(ready_storage: Storage, photo: bytes) -> None:
    key = grant_key(ready_storage, f"{ready_storage.settings.originals_prefix}a cat+dog é.jpg")
    ready_storage.client.put_object(Bucket=ready_storage.settings.bucket, Key=key, Body=photo)

    [outcome] = handler(make_s3_event(ready_storage.settings.bucket, key), CONTEXT)["processed"]

    assert (outcome["key"], outcome["status"]) == (key, "ready")


BROKEN_EVENTS: list[Any] = [
    None,
    [],
    "a string",
    42,
    {},
    {"Records": None},
    {"Records": []},
    {"Records": [None]},
    {"Records": [{"eventSource": "aws:s3", "s3": []}]},
    {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {}}}]},
    {"Records": [{"eventSource": "aws:sns", "Sns": {"Message": "hello"}}]},
]


@pytest.mark.parametrize("event", BROKEN_EVENTS, ids=repr)
def test_a_malformed_event_is_refused_with_a_reason_not_a_crash(
    ready_storage: Storage, event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="handlers.resize"):
        result = handler(event, CONTEXT)

    assert result["processed"] == []
    assert result["malformed"] and all(isinstance(reason, str) for reason in result["malformed"])
    assert any("malformed" in r.getMessage() for r in caplog.records)
    assert images_in(ready_storage.settings) == []


def test_a_broken_record_does_not_stop_the_good_ones(ready_storage: Storage, photo: bytes) -> None:
    image = put_original(ready_storage, photo)
    event = make_s3_event(ready_storage.settings.bucket, image.original_key)
    event["Records"].insert(0, {"eventSource": "aws:s3", "s3": {"object": {"key": "x"}}})

    result = handler(event, CONTEXT)

    assert [outcome["status"] for outcome in result["processed"]] == ["ready"]
    assert len(result["malformed"]) == 1


def test_an_sqs_record_without_message_id_comes_back_and_the_good_one_is_deleted(
    ready_storage: Storage, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a batch: a good message, a broken one, and a broken one without messageId
    settings = ready_storage.settings
    image = put_original(ready_storage, photo)
    event = make_sqs_event(make_s3_event(settings.bucket, image.original_key))
    template = event["Records"][0]
    event["Records"].append({**template, "messageId": "broken", "body": "not json"})
    anonymous = {k: v for k, v in template.items() if k != "messageId"}
    event["Records"].append({**anonymous, "receiptHandle": "anon", "body": "not json either"})
    deleted: list[tuple[str, str, str]] = []

    def delete_messages(_sqs: Any, messages: list[tuple[str, str, str]]) -> int:
        deleted.extend(messages)
        return len(messages)

    monkeypatch.setattr(queues, "delete_messages", delete_messages)

    # WHEN the function handles it
    with pytest.raises(queues.BatchIncomplete) as raised:
        handler(event, CONTEXT)

    # THEN the good message is deleted by the function itself, and the batch fails, so
    # that both broken ones (with an id or not) come back, whatever the mapping says
    assert [handle for _arn, _id, handle in deleted] == [template["receiptHandle"]]
    assert raised.value.failed == ["broken", "(a message without messageId)"]
    with transaction(settings.database_url) as session:
        assert session.scalars(select(Image.status)).all() == ["ready"]


def test_a_good_sqs_record_without_message_id_is_processed(
    ready_storage: Storage, photo: bytes
) -> None:
    image = put_original(ready_storage, photo)
    event = make_sqs_event(make_s3_event(ready_storage.settings.bucket, image.original_key))
    del event["Records"][0]["messageId"]

    assert handler(event, CONTEXT) == {"batchItemFailures": []}
    assert [i.status for i in images_in(ready_storage.settings)] == ["ready"]


def test_unknown_keys_through_sqs_create_nothing(ready_storage: Storage) -> None:
    settings = ready_storage.settings
    key = f"{settings.originals_prefix}{uuid.uuid4().hex}"
    result = handler(make_sqs_event(make_s3_event(settings.bucket, key)), CONTEXT)
    assert result == {"batchItemFailures": []}
    assert images_in(settings) == []
