"""Resize function: an S3 object-created event in, three variants out.

Triggered by S3 directly (``zappa_settings.json``: an S3 event on the originals
prefix), or through SQS in the buffered variant; the local event relay invokes
it exactly as Lambda would. A file that is not a usable image ends ``failed``
and the invocation succeeds (a retry cannot help); a storage or database error
raises, so that Lambda retries the event.
"""

from __future__ import annotations

import logging
from typing import Any

from kitteh import queues
from kitteh.aws import sqs_client
from kitteh.config import Settings
from kitteh.db import transaction
from kitteh.events import S3Event, S3Record, SQSEvent, is_sqs_event
from kitteh.images import process_original
from kitteh.logs import configure_logging
from kitteh.storage import get_storage

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process every record of an S3 event, or every message of an SQS batch."""
    configure_logging()
    if is_sqs_event(event):
        return _handle_sqs_batch(SQSEvent.from_dict(event))
    return {"processed": [_process(record) for record in S3Event.from_dict(event).object_created]}


def _handle_sqs_batch(event: SQSEvent) -> dict[str, Any]:
    # Only the failed messages may go back to the queue, to be retried and in the end
    # dead-lettered, whether or not the mapping has ReportBatchItemFailures on: so a
    # partial failure deletes what succeeded and raises (kitteh.queues says why).
    done, failed = [], []
    for message in event.records:
        try:
            for record in S3Event.from_json(message.body).object_created:
                _process(record)
        except Exception:
            log.exception("message %s failed; SQS will retry it", message.message_id)
            failed.append(message.message_id)
        else:
            done.append((message.queue_arn, message.message_id, message.receipt_handle))
    if failed:
        deleted = queues.delete_messages(sqs_client(Settings.from_env()), done) if done else 0
        raise queues.BatchIncomplete(failed, len(event.records), deleted)
    return {"batchItemFailures": []}


def _process(record: S3Record) -> dict[str, Any]:
    storage = get_storage(Settings.from_env())
    if record.bucket != storage.settings.bucket or not storage.is_original_key(record.key):
        log.warning("ignoring s3://%s/%s: not an original", record.bucket, record.key)
        return {"key": record.key, "status": "ignored"}
    with transaction(storage.settings.database_url) as session:
        image = process_original(session, storage, record.key)
        log.info("image %s is %s", image.name, image.status, extra={"key": record.key})
        return {"key": record.key, "name": image.name, "status": image.status, "error": image.error}
