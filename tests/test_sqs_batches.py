"""The resize function as an SQS consumer loses no message, whatever the mapping says.

Lambda's SQS poller deletes a batch's messages itself once the function returns.
With ``ReportBatchItemFailures`` on the event source mapping it keeps those the
answer lists under ``batchItemFailures``; with it off (Zappa never turns it on) it
ignores that list and deletes them all. When the function raises it deletes none,
and they come back after the visibility timeout. These tests play the poller both
ways against a moto queue with real receipt handles.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import queues
from handlers.resize import handler
from kitteh import gallery, uploads
from kitteh.aws import sqs_client
from kitteh.config import Settings
from kitteh.db import get_sessionmaker, transaction
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import make_s3_event

Invoke = Callable[[dict[str, Any]], Any]


@pytest.fixture
def queue(storage: Storage, database: str) -> tuple[Any, str, str]:
    """A moto queue whose received messages are visible again at once, for the checks."""
    sqs = sqs_client(storage.settings)
    url = sqs.create_queue(QueueName="resize-batches", Attributes={"VisibilityTimeout": "0"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, url, arn


def send(sqs: Any, url: str, *bodies: str) -> list[dict[str, Any]]:
    """Enqueue ``bodies`` and receive them back, as the poller does, with receipt handles."""
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == len(bodies)
    return list(received)


def lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for m in messages
        ]
    }


def lambda_poller(
    sqs: Any,
    url: str,
    messages: list[dict[str, Any]],
    invoke: Invoke,
    *,
    report_batch_item_failures: bool,
    queue_arn: str,
) -> Any:
    """Invoke with the batch, then delete what Lambda's poller deletes; return the answer."""
    try:
        answer = invoke(lambda_event(messages, queue_arn))
    except Exception as exc:
        return exc  # nothing deleted: the whole batch is received again later
    kept: set[str] = set()
    if report_batch_item_failures:
        kept = {failure["itemIdentifier"] for failure in answer.get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in kept:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return answer


def still_queued(sqs: Any, url: str) -> list[str]:
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in received)


def upload(storage: Storage, photo: bytes) -> Image:
    """Store an original the way the form upload does, in a request's session."""
    with get_sessionmaker(storage.settings.database_url)() as session:
        return uploads.upload_original(session, storage, stream=io.BytesIO(photo), filename="a.jpg")


def status_of(settings: Settings, name: str) -> str:
    with transaction(settings.database_url) as session:
        image = gallery.get_image(session, name)
        assert image is not None
        return image.status


def invoke_resize(event: dict[str, Any]) -> Any:
    return handler(event, LambdaContext())


@pytest.mark.parametrize("report_batch_item_failures", [False, True], ids=["off", "on"])
def test_a_failed_message_stays_queued_whatever_the_mapping_says(
    storage: Storage,
    queue: tuple[Any, str, str],
    photo: bytes,
    report_batch_item_failures: bool,
) -> None:
    # GIVEN a batch of a real upload's event and a message that cannot be processed
    sqs, url, arn = queue
    image = upload(storage, photo)
    good = json.dumps(make_s3_event(storage.settings.bucket, image.original_key))
    messages = send(sqs, url, good, "this is not an S3 event")

    # WHEN Lambda's poller hands the batch over, with the mapping's setting off or on
    answer = lambda_poller(
        sqs,
        url,
        messages,
        invoke_resize,
        report_batch_item_failures=report_batch_item_failures,
        queue_arn=arn,
    )

    # THEN the upload is done and gone from the queue, the failed message is queued still
    assert status_of(storage.settings, image.name) == "ready"
    assert still_queued(sqs, url) == ["this is not an S3 event"]
    # AND the function error names the failed message, for the logs and the metrics
    assert isinstance(answer, queues.BatchIncomplete), answer
    assert messages[1]["MessageId"] in str(answer)
    assert messages[0]["MessageId"] not in str(answer)


def test_a_batch_that_succeeds_is_left_to_lambda_to_delete(
    storage: Storage, queue: tuple[Any, str, str], photo: bytes
) -> None:
    sqs, url, arn = queue
    image = upload(storage, photo)
    messages = send(
        sqs, url, json.dumps(make_s3_event(storage.settings.bucket, image.original_key))
    )

    answer = lambda_poller(
        sqs, url, messages, invoke_resize, report_batch_item_failures=False, queue_arn=arn
    )

    assert answer == {"batchItemFailures": []}
    assert still_queued(sqs, url) == []


def test_when_sqs_refuses_the_deletes_the_whole_batch_comes_back(
    storage: Storage, queue: tuple[Any, str, str], photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SQS refusing our own deletes (throttled, or the role lacks the permission)
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteMessage")

    monkeypatch.setattr(queues, "_delete_batch", refuse)
    sqs, url, arn = queue
    image = upload(storage, photo)
    good = json.dumps(make_s3_event(storage.settings.bucket, image.original_key))
    messages = send(sqs, url, good, "poison")

    # WHEN the batch is handled with the mapping's setting off
    answer = lambda_poller(
        sqs, url, messages, invoke_resize, report_batch_item_failures=False, queue_arn=arn
    )

    # THEN both are queued again: the upload is processed twice (idempotent), never lost
    assert isinstance(answer, queues.BatchIncomplete)
    assert still_queued(sqs, url) == sorted([good, "poison"])
