"""handlers.events: the one reading of S3 and SQS events, on what AWS and LocalStack send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.events import MalformedEvent, S3Event, SQSEvent, is_sqs_event
from tests.support.lambda_events import load_event, make_s3_event, make_sqs_event


def test_an_s3_event_gives_its_records_with_decoded_keys() -> None:
    event = S3Event.from_dict(make_s3_event("bucket", "originals/a cat+dog é.jpg", "originals/b"))

    assert not event.is_test_event
    assert [(r.bucket, r.key) for r in event.object_created] == [
        ("bucket", "originals/a cat+dog é.jpg"),
        ("bucket", "originals/b"),
    ]
    assert event.keys == ["originals/a cat+dog é.jpg", "originals/b"]


def test_localstacks_event_reads_like_aws() -> None:
    [record] = S3Event.from_dict(load_event("localstack_object_created.json")).object_created
    assert record.event_name == "ObjectCreated:Post"
    assert record.key == "originals/some key with spaces+plus-é.jpg"


def test_s3s_test_event_names_no_object() -> None:
    event = S3Event.from_dict(load_event("s3_test_event.json"))
    assert event.is_test_event and event.records == () and event.keys == []


def test_only_object_created_records_count() -> None:
    event = make_s3_event("bucket", "originals/a")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert S3Event.from_dict(event).object_created == ()


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"Records": []},
        {"Records": "nope"},
        {"Records": [{"eventSource": "aws:sqs"}]},
        {"Records": [{"eventSource": "aws:s3"}]},
        {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]},
        {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}, "object": {"key": "k"}}}]},
        {
            "Records": [
                {"eventSource": "aws:s3", "s3": {"bucket": {"name": 1}, "object": {"key": 2}}}
            ]
        },
    ],
    ids=repr,
)
def test_anything_else_is_a_malformed_event(event: Any) -> None:
    with pytest.raises(MalformedEvent):
        S3Event.from_dict(event)


@pytest.mark.parametrize("body", ["", "not json", "[1, 2]", json.dumps({"Records": []})])
def test_message_bodies_that_are_not_s3_events_are_malformed(body: str) -> None:
    with pytest.raises(MalformedEvent):
        S3Event.from_json(body)


def test_an_sqs_event_carries_the_s3_events_as_bodies() -> None:
    s3_event = make_s3_event("bucket", "originals/a")
    event = make_sqs_event(s3_event, {"Event": "s3:TestEvent"})

    assert is_sqs_event(event) and not is_sqs_event(s3_event)
    first, second = SQSEvent.from_dict(event).records
    assert first.message_id and first.message_id != second.message_id
    assert first.receipt_handle
    assert S3Event.from_json(first.body).keys == ["originals/a"]
    assert S3Event.from_json(second.body).is_test_event
