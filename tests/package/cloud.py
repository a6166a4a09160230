"""A stage's cloud side in LocalStack: its bucket, an event queue, its secrets object.

The bucket carries the stage's own bucket name from zappa_settings.json
(``KITTEH_BUCKET``), because the resize function ignores records of any other
bucket. The queue is this test session's own:
LocalStack is shared, and a consumer on the common ``kitteh-originals-created``
queue would take our events (and we theirs).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.config import Config

from handlers.events import S3Event
from kitteh.config import Settings
from ops.bootstrap import bootstrap
from tests.package.zappa_config import remote_env_location

LOCALSTACK = "http://127.0.0.1:4566"
#: LocalStack derives account 000000000000 from these keys.
LOCALSTACK_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=LOCALSTACK,
        region_name="us-east-1",
        aws_access_key_id=LOCALSTACK_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCALSTACK_KEYS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass
class Cloud:
    """One stage's bucket and queue, as ops.bootstrap sets them up."""

    config: dict[str, Any]
    settings: Settings
    s3: Any = field(repr=False)
    sqs: Any = field(repr=False)
    queue_urls: tuple[str, str] = ("", "")

    @classmethod
    def bootstrap(cls, config: dict[str, Any]) -> Cloud:
        """Create the stage's bucket, a queue (and its DLQ) and the notification."""
        settings = replace(
            Settings(),
            bucket=_env_bucket(config),
            queue_name=f"kitteh-pkg-{uuid.uuid4().hex[:8]}",
            endpoint_url=LOCALSTACK,
        )
        cloud = cls(config, settings, client("s3"), client("sqs"))
        summary = bootstrap(settings, s3=cloud.s3, sqs=cloud.sqs)
        cloud.queue_urls = (summary["queue_url"], summary["dlq_url"])
        secrets_bucket, _ = remote_env_location(config)
        if secrets_bucket not in {b["Name"] for b in cloud.s3.list_buckets()["Buckets"]}:
            cloud.s3.create_bucket(Bucket=secrets_bucket)
        return cloud

    def put_secrets(self, secrets: dict[str, str]) -> None:
        """Write the JSON object the stage's remote_env names."""
        bucket, key = remote_env_location(self.config)
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(secrets).encode())

    def next_message(self, key: str, timeout: float = 30) -> dict[str, Any]:
        """Return (and delete) the SQS message holding LocalStack's S3 event for ``key``.

        Messages for other keys (an earlier test's upload, S3's test event) are
        consumed and dropped.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_urls[0], MaxNumberOfMessages=10, WaitTimeSeconds=2
            )
            for message in received.get("Messages", []):
                self.sqs.delete_message(
                    QueueUrl=self.queue_urls[0], ReceiptHandle=message["ReceiptHandle"]
                )
                if key in S3Event.from_json(message["Body"]).keys:
                    return dict(message)
        raise AssertionError(f"no S3 event for {key!r} reached the queue in {timeout} s")

    def next_event(self, key: str, timeout: float = 30) -> dict[str, Any]:
        """Return the S3 event LocalStack emitted for ``key``."""
        event: dict[str, Any] = json.loads(self.next_message(key, timeout)["Body"])
        return event

    def keys(self, prefix: str) -> list[str]:
        found = self.s3.list_objects_v2(Bucket=self.settings.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in found.get("Contents", []))

    def destroy(self) -> None:
        """Delete the queues and empty and delete the buckets."""
        for url in self.queue_urls:
            self.sqs.delete_queue(QueueUrl=url)
        secrets_bucket, _ = remote_env_location(self.config)
        for bucket in dict.fromkeys((self.settings.bucket, secrets_bucket)):
            _empty_and_delete(self.s3, bucket)


def _env_bucket(config: dict[str, Any]) -> str:
    bucket: str = config["aws_environment_variables"]["KITTEH_BUCKET"]
    return bucket


def _empty_and_delete(s3: Any, bucket: str) -> None:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass  # the other stage's cleanup took the shared secrets bucket already
