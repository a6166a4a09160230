"""This run's private stack on LocalStack: its bucket and queues, and what the relay delivered."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy import func, select

from handlers.resize import handler
from kitteh.aws import s3_client, sqs_client
from kitteh.config import Settings
from kitteh.db import session_scope
from kitteh.relay import lambda_invoker
from models import Image
from tests.localstack.helpers import wait_for

#: Canaries go through S3 → SQS → relay like any original, but are not handed to the
#: resize function, so they leave no image behind.
CANARY_PREFIX = "originals/canary-"


def event_keys(event: dict[str, Any]) -> list[str]:
    """The decoded object keys an S3 event names; tolerant of malformed events."""
    keys = []
    for record in event.get("Records") or []:
        key = (record.get("s3") or {}).get("object", {}).get("key")
        if isinstance(key, str):
            keys.append(unquote_plus(key))
    return keys


@dataclass(frozen=True)
class Delivery:
    """One invocation of the resize function by the relay, and how it ended."""

    event: dict[str, Any]
    keys: list[str]
    result: object = None
    error: BaseException | None = None


class RecordingInvoker:
    """The relay's ``deliver``: invokes the resize function and records every delivery.

    The record is how the tests see what reached the queue at all (a variant's event,
    say) even though the relay consumes messages as soon as they arrive.
    """

    def __init__(self, deliver: Callable[[dict[str, Any]], object]) -> None:
        self._deliver = deliver
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []

    def __call__(self, event: dict[str, Any]) -> object:
        keys = event_keys(event)
        if keys and all(key.startswith(CANARY_PREFIX) for key in keys):
            self._add(Delivery(event, keys))
            return None
        try:
            result = self._deliver(event)
        except Exception as exc:
            self._add(Delivery(event, keys, error=exc))
            raise
        self._add(Delivery(event, keys, result=result))
        return result

    def _add(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def for_key(self, key: str) -> list[Delivery]:
        return [d for d in self.deliveries if key in d.keys]

    def keys_under(self, prefix: str) -> list[str]:
        return [key for d in self.deliveries for key in d.keys if key.startswith(prefix)]


class Stack:
    """This run's bucket and queues on LocalStack, its database, and the relay feeding them."""

    def __init__(self, settings: Settings, summary: dict[str, Any]) -> None:
        self.settings = settings
        self.queue_url: str = summary["queue_url"]
        self.dlq_url: str = summary["dlq_url"]
        self.s3 = s3_client(settings)
        self.sqs = sqs_client(settings)
        self.invoker = RecordingInvoker(lambda_invoker(handler, region=settings.region))

    # Queues -----------------------------------------------------------------

    def counts(self, queue_url: str) -> tuple[int, int]:
        """(visible, in flight) messages of ``queue_url``."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def wait_until_queues_empty(self, timeout: float = 5) -> None:
        """Wait until the queue and its DLQ hold nothing, visible or in flight.

        A delivered message is deleted just after the handler returns, hence a wait.
        """
        wait_for(
            lambda: self.counts(self.queue_url) == (0, 0) and self.counts(self.dlq_url) == (0, 0),
            timeout=timeout,
            what=lambda: (
                f"empty queues; (visible, in flight) queue="
                f"{self.counts(self.queue_url)} dlq={self.counts(self.dlq_url)}"
            ),
        )

    def set_visibility_timeout(self, seconds: int) -> None:
        """Change the queue's visibility timeout, effective from the relay's next receive.

        LocalStack applies the timeout a receive started with, and the relay is always
        in a long poll: an ``s3:TestEvent`` (which the relay deletes unseen) ends the
        current poll, so once it is gone every later receive sees the new timeout.
        """
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"VisibilityTimeout": str(seconds)}
        )
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps({"Event": "s3:TestEvent"})
        )
        wait_for(
            lambda: self.counts(self.queue_url) == (0, 0),
            timeout=10,
            what="the relay to take a test event",
        )

    def settle(self, timeout: float = 10) -> None:
        """Wait until every event S3 sent so far has been through the relay.

        A canary object written now reaches the relay after the events of earlier
        writes (LocalStack sends them from a thread pool, so a few hundred ms of grace
        cover a rare reordering): a short, bounded wait for "nothing happens", instead
        of sleeping long enough for the slowest machine.
        """
        key = f"{CANARY_PREFIX}{uuid.uuid4().hex}"
        self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=b"canary")
        wait_for(lambda: self.invoker.for_key(key), timeout=timeout, what=f"canary {key}")
        time.sleep(0.3)
        self.s3.delete_object(Bucket=self.settings.bucket, Key=key)

    # Objects and records -----------------------------------------------------

    def object_exists(self, key: str, bucket: str | None = None) -> bool:
        listed = self.s3.list_objects_v2(Bucket=bucket or self.settings.bucket, Prefix=key)
        return any(item["Key"] == key for item in listed.get("Contents", []))

    def image_count(self) -> int:
        with session_scope(self.settings.database_url) as session:
            return int(session.scalar(select(func.count()).select_from(Image)) or 0)

    def image_by_key(self, original_key: str) -> Image | None:
        with session_scope(self.settings.database_url) as session:
            image = session.scalars(
                select(Image).where(Image.original_key == original_key)
            ).one_or_none()
            if image is not None:
                image.variants  # noqa: B018 - loaded before the session closes
            return image

    # Teardown -----------------------------------------------------------------

    def remove(self) -> None:
        """Delete this run's objects, bucket and queues (never anyone else's)."""
        names = dict.fromkeys((self.settings.bucket, self.settings.variants_bucket_name))
        for bucket in names:
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    self.s3.delete_object(Bucket=bucket, Key=item["Key"])
            self.s3.delete_bucket(Bucket=bucket)
        for url in (self.queue_url, self.dlq_url):
            self.sqs.delete_queue(QueueUrl=url)
