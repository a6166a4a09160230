"""The one reading of the events that reach the resize function, in Powertools' shapes.

The resize function is triggered by S3 directly (an :class:`S3Event`) or, in the
buffered production variant, through SQS (an :class:`SQSEvent` whose message bodies
are S3 events). The handler, the local relay, the tests and the benchmarks all read
events through these classes, so an event means the same thing everywhere.

The shapes follow AWS Lambda Powertools' event data classes (``S3Event.records``,
``SQSRecord.message_id``/``body``), which Lambda users know, without their import
cost on every cold start (docs/architecture.md has the figures). Unlike Powertools,
keys are decoded once, here: S3 sends them URL-encoded with ``+`` for spaces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class MalformedEvent(ValueError):
    """The event (or message body) is not what it claims to be; a retry cannot help."""


@dataclass(frozen=True)
class S3Record:
    """One record of an S3 event notification."""

    event_name: str
    bucket: str
    #: Decoded: ``cat+photo.jpg`` in the event is ``cat photo.jpg`` here.
    key: str

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> S3Record:
        try:
            s3 = record["s3"]
            bucket, key = s3["bucket"]["name"], s3["object"]["key"]
        except (KeyError, TypeError) as exc:
            raise MalformedEvent(f"an S3 record without bucket and key: {exc!r}") from exc
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise MalformedEvent("an S3 record whose bucket or key is not a string")
        return cls(str(record.get("eventName", "")), bucket, unquote_plus(key))

    @property
    def is_object_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


@dataclass(frozen=True)
class S3Event:
    """An S3 event notification: its records, or S3's ``s3:TestEvent``.

    S3 sends the test event when a notification is configured; it names no object.
    """

    records: tuple[S3Record, ...]
    is_test_event: bool = False
    #: Why each record that could not be read was left out (the others still count).
    malformed: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, event: object) -> S3Event:
        """Read an S3 event; a broken record is set aside in :attr:`malformed`.

        :raise MalformedEvent: not an S3 event, or not one of its records is readable.
        """
        if not isinstance(event, Mapping):
            raise MalformedEvent("the event is not a JSON object")
        if event.get("Event") == "s3:TestEvent":
            return cls((), is_test_event=True)
        records = event.get("Records")
        if not isinstance(records, list) or not records:
            raise MalformedEvent("the event has no Records")
        read, malformed = [], []
        for index, record in enumerate(records):
            try:
                if not isinstance(record, Mapping) or record.get("eventSource") != "aws:s3":
                    raise MalformedEvent("a record that is not from S3")
                read.append(S3Record.from_dict(record))
            except MalformedEvent as exc:
                malformed.append(f"record {index}: {exc}")
        if not read:
            raise MalformedEvent("; ".join(malformed))
        return cls(tuple(read), malformed=tuple(malformed))

    @classmethod
    def from_json(cls, body: str) -> S3Event:
        """Read an S3 event from JSON text, such as an SQS message body."""
        try:
            event = json.loads(body)
        except (json.JSONDecodeError, TypeError) as exc:
            raise MalformedEvent(f"the message body is not JSON: {exc}") from exc
        return cls.from_dict(event)

    @property
    def object_created(self) -> tuple[S3Record, ...]:
        """The records that report a new object (all of them, from our notification)."""
        return tuple(record for record in self.records if record.is_object_created)

    @property
    def keys(self) -> list[str]:
        return [record.key for record in self.records]


@dataclass(frozen=True)
class SQSRecord:
    """One message of an SQS event."""

    #: None when the record carries none: it cannot be reported as a batch item
    #: failure (Lambda would take an empty identifier as the whole batch failing).
    message_id: str | None
    body: str
    receipt_handle: str
    #: The queue the message came from, as an ARN: deleting it takes its URL.
    queue_arn: str = ""


@dataclass(frozen=True)
class SQSEvent:
    records: tuple[SQSRecord, ...]

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> SQSEvent:
        return cls(
            tuple(
                SQSRecord(
                    message_id=_text(record.get("messageId")),
                    body=str(record.get("body", "")),
                    receipt_handle=str(record.get("receiptHandle", "")),
                    queue_arn=str(record.get("eventSourceARN", "")),
                )
                for record in event.get("Records") or []
            )
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def is_sqs_event(event: object) -> bool:
    """True for an event Lambda built from SQS messages (every record ``aws:sqs``)."""
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    )
