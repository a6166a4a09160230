"""Production's buffered variant: S3 -> SQS -> Lambda, with a failed message in the batch.

Lambda's SQS poller hands the function a batch of messages, each stamped with the
queue's ARN; the package routes the batch by that ARN (production's ``events``).
The messages here are the ones LocalStack's S3 put on the queue for a real
upload; only their ARN is the one zappa_settings.json names, since the queue
itself is this session's own.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from tests.package.cloud import Cloud
from tests.package.container import LambdaContainer, LambdaError, StartContainer
from tests.package.zappa_config import source_events
from tests.support.uploads import grant

pytestmark = [pytest.mark.package, pytest.mark.postgres, pytest.mark.localstack]


def sqs_record(message_id: str, body: str, queue_arn: str) -> dict[str, Any]:
    """One record as Lambda's SQS event source mapping delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764314230000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764314230001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


@pytest.fixture(scope="session")
def buffered(
    web: LambdaContainer, web_database: str, start_production_container: StartContainer
) -> LambdaContainer:
    """A production container on the (migrated) web database."""
    container = start_production_container(web_database)
    assert "error" not in container.invoke({"command": "handlers.migrate.handler"})
    return container


def test_a_batch_resizes_its_uploads_and_fails_naming_only_the_poison_message(
    buffered: LambdaContainer,
    production_cloud: Cloud,
    production_config: dict[str, Any],
    web_database: str,
    photo: bytes,
) -> None:
    # GIVEN a real upload's message off the queue S3 notifies, and a poison message
    settings = production_cloud.settings
    key = grant(web_database, f"{settings.originals_prefix}buffered-{uuid.uuid4().hex}.jpg")
    production_cloud.s3.put_object(Bucket=settings.bucket, Key=key, Body=photo)
    message = production_cloud.next_message(key)
    (event_source,) = source_events(production_config)
    queue_arn = event_source["event_source"]["arn"]
    batch = {
        "Records": [
            sqs_record(message["MessageId"], message["Body"], queue_arn),
            sqs_record("poison", "this is not an S3 event", queue_arn),
        ]
    }

    # WHEN Lambda's poller hands the batch to the function
    with pytest.raises(LambdaError) as incomplete:
        buffered.invoke(batch)

    # THEN it raises, so that no poller deletes the poison message, whatever the
    # mapping's ReportBatchItemFailures; the upload's own message is not named
    # (the function deleted it itself: tests/test_sqs_batches.py plays that part).
    reported = str(incomplete.value).splitlines()[0]
    assert reported == ("BatchIncomplete: 1 of 2 messages failed and return to the queue: poison")
    stem = key.removeprefix(settings.originals_prefix)
    variants = production_cloud.keys(f"{settings.variants_prefix}{stem}/")
    made = {key.rsplit("/", 1)[1] for key in variants}
    kinds = ("tiny", "large", "monstrous")
    assert {f"{kind}.{ext}" for kind in kinds for ext in ("jpg", "avif")} | {"original.jpg"} <= made
