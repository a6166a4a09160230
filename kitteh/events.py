"""Typed views of the Lambda events Kitteh receives, in the style of Powertools' data classes.

The resize function is triggered by S3 directly (an S3 event) or, in the
buffered production variant, through SQS (an SQS event whose bodies are S3
events). S3 also sends an ``s3:TestEvent`` when a notification is set up; it
names no object and is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class S3ObjectEvent:
    """One object-created record."""

    event_name: str
    bucket: str
    #: Decoded once, here: S3 sends keys URL-encoded with ``+`` for spaces.
    key: str
    size: int | None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> S3ObjectEvent:
        s3 = record["s3"]
        size = s3["object"].get("size")
        return cls(
            event_name=str(record.get("eventName", "")),
            bucket=str(s3["bucket"]["name"]),
            key=unquote_plus(str(s3["object"]["key"])),
            size=int(size) if size is not None else None,
        )

    @property
    def is_object_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


@dataclass(frozen=True)
class SQSMessage:
    message_id: str
    body: str
    #: What deleting the message takes: its queue (as an ARN) and this receipt's handle.
    queue_arn: str = ""
    receipt_handle: str = ""


def is_test_event(event: Mapping[str, Any]) -> bool:
    return event.get("Event") == "s3:TestEvent"


def is_sqs_event(event: Mapping[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and all(r.get("eventSource") == "aws:sqs" for r in records)


def s3_objects(event: Mapping[str, Any]) -> Iterator[S3ObjectEvent]:
    """Yield the object-created records of an S3 event (none for a test event)."""
    if is_test_event(event):
        return
    for record in event.get("Records") or []:
        if record.get("eventSource") == "aws:s3" or "s3" in record:
            parsed = S3ObjectEvent.from_record(record)
            if parsed.is_object_created:
                yield parsed


def sqs_messages(event: Mapping[str, Any]) -> Iterator[SQSMessage]:
    for record in event.get("Records") or []:
        yield SQSMessage(
            message_id=str(record["messageId"]),
            body=str(record["body"]),
            queue_arn=str(record.get("eventSourceARN", "")),
            receipt_handle=str(record.get("receiptHandle", "")),
        )


def s3_event_from_body(body: str) -> dict[str, Any]:
    """Parse an SQS message body holding an S3 event.

    :raise ValueError: the body is not JSON or not an S3 event.
    """
    try:
        event = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"message body is not JSON: {exc}") from exc
    if not isinstance(event, dict) or not (is_test_event(event) or "Records" in event):
        raise ValueError("message body is not an S3 event")
    return event
