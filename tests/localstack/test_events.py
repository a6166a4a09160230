"""What the event loop does on LocalStack beyond the happy path: no recursion, no retry loops.

The relay deletes a message once the resize function returns and leaves it for SQS
otherwise; the queue's redrive policy then moves it to the DLQ after
``MAX_RECEIVE_COUNT`` receives. These tests check the queues themselves, not our mocks.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ops.bootstrap import bootstrap
from tests.localstack.helpers import (
    LANDSCAPE,
    assert_ready_with_variants,
    post_to_s3,
    request_upload,
    upload_via_api,
    wait_for,
    wait_until_processed,
)
from tests.localstack.stack import Stack

pytestmark = [pytest.mark.localstack, pytest.mark.postgres]


def test_writing_variants_queues_no_event(stack: Stack, client: FlaskClient, photos: Path) -> None:
    # GIVEN an image made ready, its three variants written next to the originals
    name = upload_via_api(client, (photos / "exif-Landscape_8.jpg").read_bytes(), "cat.jpg")
    assert_ready_with_variants(wait_until_processed(client, name), LANDSCAPE)

    # WHEN every event S3 sent has had time to arrive
    stack.settle()

    # THEN none was for a variant, and nothing waits in the queue or its DLQ
    assert stack.invoker.keys_under("variants/") == []
    stack.wait_until_queues_empty()

    # AND an object put straight under variants/ queues nothing either
    key = f"variants/{uuid.uuid4().hex}/tiny.jpg"
    stack.s3.put_object(Bucket=stack.settings.bucket, Key=key, Body=b"not a picture")
    stack.settle()
    assert stack.invoker.keys_under("variants/") == []
    stack.wait_until_queues_empty()


def test_undecodable_original_fails_once_and_its_message_is_consumed(
    stack: Stack, client: FlaskClient, photos: Path
) -> None:
    # GIVEN a JPEG cut short: its header passes as image/jpeg, its pixels do not decode
    photo = (photos / "exif-Landscape_0.jpg").read_bytes()
    truncated = photo[: len(photo) // 3]
    grant = request_upload(client, "truncated.jpg", len(truncated))

    # WHEN it is posted straight to S3
    response = post_to_s3(grant, truncated, filename="truncated.jpg")

    # THEN the image fails with the reason
    assert response.status_code == 204, response.text
    resource = wait_until_processed(client, grant["name"])
    assert resource["status"] == "failed", resource
    assert "truncated" in resource["error"], resource
    assert (resource["width"], resource["height"]) == (1800, 1200)  # the header was fine
    assert resource["variants"] == {}
    # AND the function returned normally once, so the message was deleted, not retried
    [delivery] = stack.invoker.for_key(grant["fields"]["key"])
    assert delivery.error is None
    assert delivery.result == {
        "processed": [
            {
                "key": grant["fields"]["key"],
                "name": grant["name"],
                "status": "failed",
                "error": resource["error"],
            }
        ]
    }
    stack.wait_until_queues_empty()


def _malformed_s3_event(marker: str) -> str:
    """An S3 event the relay accepts but the resize function cannot read (no bucket)."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"object": {"key": f"originals/{marker}"}},
    }
    return json.dumps({"Records": [record]})


def test_a_malformed_event_is_refused_once_with_its_reason_and_consumed(stack: Stack) -> None:
    # GIVEN an S3 event the function cannot read (no bucket): a retry cannot help
    marker = uuid.uuid4().hex
    images_before = stack.image_count()

    # WHEN it is sent to the queue
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=_malformed_s3_event(marker))

    # THEN the function answers once, with the reason, and the relay deletes the message
    [delivery] = wait_for(
        lambda: [d for d in stack.invoker.deliveries if marker in json.dumps(d.event)],
        timeout=20,
        what="the malformed event at the function",
    )
    assert delivery.error is None, delivery.error
    assert isinstance(delivery.result, dict) and delivery.result["processed"] == []
    [reason] = delivery.result["malformed"]
    assert "bucket" in reason
    stack.wait_until_queues_empty()
    assert stack.image_count() == images_before


@pytest.mark.usefixtures("fast_retries")
def test_an_unreadable_message_ends_in_the_dlq_unchanged(stack: Stack) -> None:
    # GIVEN a message that is not even JSON: the relay leaves it for SQS's retries
    marker = uuid.uuid4().hex
    sent = f"not json {marker}"

    # WHEN it is sent to the queue
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=sent)

    # THEN after maxReceiveCount receives SQS moves it to the DLQ, unchanged
    wait_for(
        lambda: stack.counts(stack.dlq_url)[0] == 1,
        timeout=20,
        what=f"the message in the DLQ; queue={stack.counts(stack.queue_url)}",
    )
    [dead] = stack.sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10)["Messages"]
    stack.sqs.delete_message(QueueUrl=stack.dlq_url, ReceiptHandle=dead["ReceiptHandle"])
    assert dead["Body"] == sent
    assert not [d for d in stack.invoker.deliveries if marker in json.dumps(d.event)]
    stack.wait_until_queues_empty()


def test_bootstrap_blocks_public_access_again_when_someone_opened_the_bucket(
    stack: Stack,
) -> None:
    # New buckets block public access by default (AWS since 2023, LocalStack alike), so
    # the case that matters is a bucket someone opened: bootstrap must close it again.
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    stack.s3.put_public_access_block(
        Bucket=stack.settings.bucket,
        PublicAccessBlockConfiguration=dict.fromkeys(flags, False),  # type: ignore[arg-type]
    )

    bootstrap(stack.settings)

    config = stack.s3.get_public_access_block(Bucket=stack.settings.bucket)
    assert config["PublicAccessBlockConfiguration"] == dict.fromkeys(flags, True)
