"""Create or converge the cloud side of Kitteh: buckets, queues, notification, CORS.

One idempotent function serves every environment: moto in the tests, LocalStack
(whose init hook runs ``python -m ops.bootstrap`` inside its own interpreter, with
nothing but boto3 installed, hence no imports beyond boto3 and ``kitteh.config`` /
``kitteh.aws``) and a real AWS account. Each step reads what exists and changes only
what differs, so running it again is harmless and re-running it after changing a
setting applies the change.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from kitteh.aws import error_code, is_not_found, s3_client, sqs_client
from kitteh.config import Settings

if TYPE_CHECKING:  # dev-only stubs: LocalStack's interpreter runs this without them
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CORSRuleTypeDef,
        NotificationConfigurationFilterTypeDef,
        NotificationConfigurationTypeDef,
        PublicAccessBlockConfigurationTypeDef,
        QueueConfigurationTypeDef,
    )
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

log = logging.getLogger(__name__)

#: Receives after which SQS moves a message that keeps failing to the dead-letter
#: queue, instead of retrying a poison event forever. AWS advises at least 5 for a
#: Lambda consumer: a batch throttled by Lambda counts a receive without being read.
#: The doctor fails a queue with fewer.
MAX_RECEIVE_COUNT = 5
#: A received message stays hidden this many times the function's timeout. It must
#: outlast one resize, or a slow resize is delivered twice while still running; AWS
#: advises six times, room for the poller's own retries. The doctor checks it too.
VISIBILITY_TIMEOUT_FACTOR = 6
#: The resize function's timeout in seconds (zappa_settings.json's timeout_seconds).
FUNCTION_TIMEOUT = 60
#: Seconds a received message stays hidden: 360.
VISIBILITY_TIMEOUT = VISIBILITY_TIMEOUT_FACTOR * FUNCTION_TIMEOUT
#: Dead letters are kept for SQS's maximum, 14 days. A message's age counts from its
#: first enqueue, so a shorter retention could drop it on arrival.
DLQ_RETENTION = 14 * 24 * 3600
#: Our notification and CORS rule carry these ids, so that re-runs replace them and
#: leave everyone else's (a Lambda trigger set by the deployer, say) untouched.
NOTIFICATION_ID = "kitteh-originals-created"
CORS_RULE_ID = "kitteh-browser-upload"
#: Browsers may cache a CORS preflight answer this long, in seconds.
CORS_MAX_AGE = 3000
#: What a page's script sends the originals bucket: an upload's presigned POST.
#: Pages show images through <img> and presigned GET redirects, which need no CORS,
#: and nothing issues presigned PUTs. The doctor fails our rule if it allows more.
UPLOAD_METHODS = ("POST",)


def ensure_bucket(s3: S3Client, name: str) -> bool:
    """Create bucket ``name`` in the client's region unless it exists; True if created."""
    try:
        s3.head_bucket(Bucket=name)
        return False
    except ClientError as exc:
        if not is_not_found(exc):
            # 403: the name exists but belongs to someone else; creating cannot help.
            raise
    region = s3.meta.region_name or "us-east-1"
    kwargs: dict[str, Any] = {"Bucket": name}
    # us-east-1 is S3's default location and rejects an explicit constraint naming it.
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":  # lost a race with ourselves
            raise
        return False
    log.info("created bucket=%s region=%s", name, region)
    return True


#: Every public-access switch on: originals are reached through presigned URLs only.
PUBLIC_ACCESS_BLOCK: PublicAccessBlockConfigurationTypeDef = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def ensure_private(s3: S3Client, bucket: str) -> None:
    """Turn on all four Public Access Block settings of ``bucket`` (S3's default since 2023).

    A bucket made earlier, or opened by hand, would otherwise serve originals (GPS and
    all) to anyone with the URL. Every bucket Kitteh writes to gets it, variants too.
    """
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)


def ensure_queue(
    sqs: SQSClient, name: str, attributes: dict[QueueAttributeNameType, str] | None = None
) -> tuple[str, str]:
    """Create queue ``name`` if absent and set ``attributes``; return (url, arn).

    ``CreateQueue`` refuses an existing queue whose attributes differ, so the queue
    is created bare and its attributes are set separately, which also converges a
    queue made by an older version of this module.
    """
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def queue_policy(queue_arn: str, bucket: str) -> dict[str, Any]:
    """Return the queue policy that lets S3 deliver ``bucket``'s events to the queue.

    The bucket ARN's partition and the account condition come from the queue's ARN:
    a bucket ARN names no account, so without ``aws:SourceAccount`` a bucket of the
    same name in another account could send to the queue (the confused deputy).
    """
    partition, account = queue_arn.split(":")[1], queue_arn.split(":")[4]
    return {
        "Version": "2012-10-17",
        "Id": f"{NOTIFICATION_ID}-policy",
        "Statement": [
            {
                "Sid": "AllowS3ObjectCreatedEvents",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:s3:::{bucket}"},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        ],
    }


def notification_configuration(s3: S3Client, bucket: str) -> NotificationConfigurationTypeDef:
    """Read ``bucket``'s notification configuration, in the shape S3 takes back.

    ``PutBucketNotificationConfiguration`` replaces the whole configuration, so
    whoever changes one entry reads this, swaps the entry, and writes it all back.
    """
    answer = s3.get_bucket_notification_configuration(Bucket=bucket)
    # The answer less its ResponseMetadata is a configuration S3 takes back as it is.
    return cast(
        "NotificationConfigurationTypeDef",
        {key: value for key, value in answer.items() if key != "ResponseMetadata"},
    )


def prefix_filter(prefix: str) -> NotificationConfigurationFilterTypeDef:
    """The filter of a notification for the keys under ``prefix``, as Kitteh spells it."""
    # "prefix" in lower case is the API's spelling; AWS also takes "Prefix", moto not.
    return {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}


def ensure_notification(s3: S3Client, bucket: str, queue_arn: str, prefix: str) -> bool:
    """Send ``bucket``'s object-created events under ``prefix`` to the queue.

    ``PutBucketNotificationConfiguration`` replaces the whole configuration, so the
    existing one is read and only our entry is swapped in. The prefix filter is what
    keeps the resize function's own writes (variants) from triggering it again.
    Nothing is written when the configuration already matches: every write makes S3
    send an ``s3:TestEvent`` to each queue. Returns True if it wrote.
    """
    current = notification_configuration(s3, bucket)
    ours: QueueConfigurationTypeDef = {
        "Id": NOTIFICATION_ID,
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": prefix_filter(prefix),
    }
    others = [
        c
        for c in current.get("QueueConfigurations", [])
        if c.get("Id") != NOTIFICATION_ID and c.get("QueueArn") != queue_arn
    ]
    wanted: NotificationConfigurationTypeDef = {**current, "QueueConfigurations": [*others, ours]}
    if _normalised(wanted) == _normalised(current):
        return False
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
    log.info("set notification bucket=%s prefix=%s queue=%s", bucket, prefix, queue_arn)
    return True


def same_notifications(
    a: NotificationConfigurationTypeDef, b: NotificationConfigurationTypeDef
) -> bool:
    """Tell whether two notification configurations mean the same (however S3 spells them)."""
    return _normalised(a) == _normalised(b)


def _normalised(config: NotificationConfigurationTypeDef) -> str:
    # S3 may echo filter rule names in either case ("Prefix"/"prefix") and omit
    # empty lists; compare what the configuration means, not how it is spelled.
    def rules(entry: dict[str, Any]) -> dict[str, Any]:
        key_filter = entry.get("Filter", {}).get("Key", {})
        names = [
            {**rule, "Name": rule["Name"].lower()} for rule in key_filter.get("FilterRules", [])
        ]
        return {**entry, "Filter": {"Key": {"FilterRules": names}}} if names else entry

    shaped = {
        kind: [rules(entry) for entry in value] if isinstance(value, list) else value
        for kind, value in config.items()
        if value
    }
    return json.dumps(shaped, sort_keys=True)


def cors_rules(origins: Iterable[str], *, upload: bool = True) -> list[CORSRuleTypeDef]:
    """Return the CORS rule letting browsers at ``origins`` use the bucket.

    The originals bucket takes :data:`UPLOAD_METHODS` (the presigned POST); a
    separate variants bucket (``upload=False``) lets pages read objects back with
    GET/HEAD. ``ETag`` and ``Location`` are exposed because a browser's script only
    sees response headers that CORS lists, and a direct upload reports its result
    in them.
    """
    methods = list(UPLOAD_METHODS) if upload else ["GET", "HEAD"]
    return [
        {
            "ID": CORS_RULE_ID,
            "AllowedOrigins": list(origins),
            "AllowedMethods": methods,
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Location"],
            "MaxAgeSeconds": CORS_MAX_AGE,
        }
    ]


def ensure_cors(s3: S3Client, bucket: str, rules: list[CORSRuleTypeDef]) -> None:
    """Put ``rules`` first in ``bucket``'s CORS configuration, keeping other rules.

    S3 applies the first rule that matches a request, hence first.
    """
    try:
        existing = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchCORSConfiguration":
            raise
        existing = []
    ids = {rule["ID"] for rule in rules}
    others = [rule for rule in existing if rule.get("ID") not in ids]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*rules, *others]})


def bootstrap(
    settings: Settings,
    *,
    s3: S3Client | None = None,
    sqs: SQSClient | None = None,
    app_origins: Iterable[str] | None = None,
    with_queue: bool = True,
) -> dict[str, Any]:
    """Create or converge everything Kitteh needs in S3 and SQS; return a summary.

    ``s3`` and ``sqs`` default to clients built from ``settings``. ``app_origins``
    replaces ``settings.cors_origins`` as the browser origins allowed by CORS.
    ``with_queue=False`` sets up buckets and CORS only: where S3 invokes the resize
    function directly (the dev stage), ``ops.wiring`` subscribes it, and S3
    refuses two notifications for the same events on the same prefix. An empty
    ``app_origins`` leaves CORS as it is: a first deploy knows no origin until
    Zappa has created the API.
    """
    s3 = s3 if s3 is not None else s3_client(settings)
    sqs = sqs if sqs is not None else sqs_client(settings)
    origins = tuple(app_origins) if app_origins is not None else settings.cors_origins
    bucket, variants = settings.bucket, settings.variants_bucket_name

    for name in dict.fromkeys((bucket, variants)):  # once if they are the same bucket
        ensure_bucket(s3, name)
        ensure_private(s3, name)

    queues = _ensure_event_queue(s3, sqs, settings) if with_queue else {}
    if origins:
        ensure_cors(s3, bucket, cors_rules(origins))
        if variants != bucket:
            ensure_cors(s3, variants, cors_rules(origins, upload=False))

    return {
        "bucket": bucket,
        "variants_bucket": variants,
        "originals_prefix": settings.originals_prefix,
        "queue_url": queues.get("queue_url"),
        "queue_arn": queues.get("queue_arn"),
        "dlq_url": queues.get("dlq_url"),
        "dlq_arn": queues.get("dlq_arn"),
        "cors_origins": list(origins),
        "notification_changed": queues.get("notification_changed", False),
        "region": settings.region,
        "endpoint_url": settings.endpoint_url,
    }


def _ensure_event_queue(s3: S3Client, sqs: SQSClient, settings: Settings) -> dict[str, Any]:
    """The queue (with its dead-letter queue) that receives the originals' events."""
    dlq_url, dlq_arn = ensure_queue(
        sqs, f"{settings.queue_name}-dlq", {"MessageRetentionPeriod": str(DLQ_RETENTION)}
    )
    queue_url, queue_arn = ensure_queue(sqs, settings.queue_name)
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
            # Before the notification: S3 validates a new destination by sending it a
            # test event, and refuses the configuration if the policy denies that.
            "Policy": json.dumps(queue_policy(queue_arn, settings.bucket)),
        },
    )
    changed = ensure_notification(s3, settings.bucket, queue_arn, settings.originals_prefix)
    return {
        "queue_url": queue_url,
        "queue_arn": queue_arn,
        "dlq_url": dlq_url,
        "dlq_arn": dlq_arn,
        "notification_changed": changed,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ops.bootstrap [--no-queue]``: bootstrap from the environment's settings.

    Prints the summary as JSON. ``--no-queue``: buckets and CORS only (on AWS,
    where S3 invokes the resize function directly). ``argv`` defaults to the
    command line's.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ops.bootstrap",
        description="Create or converge Kitteh's buckets, queues, notification and CORS "
        "on the endpoint the environment names (idempotent).",
    )
    parser.add_argument(
        "--no-queue",
        dest="with_queue",
        action="store_false",
        help="buckets and CORS only: no SQS queue, no S3 -> SQS notification",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = bootstrap(Settings.from_env(), with_queue=args.with_queue)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
