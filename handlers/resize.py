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

from kitteh import events, queues
from kitteh.aws import sqs_client
from kitteh.config import Settings
from kitteh.db import session_scope
from kitteh.images import process_original
from kitteh.logs import configure_logging
from kitteh.storage import get_storage

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process every record of an S3 event, or every message of an SQS batch."""
    configure_logging()
    if events.is_sqs_event(event):
        return _handle_sqs_batch(event)
    return {"processed": [_process(record) for record in events.s3_objects(event)]}


def _handle_sqs_batch(event: dict[str, Any]) -> dict[str, Any]:
    # Only the failed messages may go back to the queue, to be retried and in the end
    # dead-lettered, whether or not the mapping has ReportBatchItemFailures on: so a
    # partial failure deletes what succeeded and raises (kitteh.queues says why).
    messages = list(events.sqs_messages(event))
    done, failed = [], []
    for message in messages:
        try:
            s3_event = events.s3_event_from_body(message.body)
            for record in events.s3_objects(s3_event):
                _process(record)
        except Exception:
            log.exception("message %s failed; SQS will retry it", message.message_id)
            failed.append(message.message_id)
        else:
            done.append((message.queue_arn, message.message_id, message.receipt_handle))
    if failed:
        deleted = queues.delete_messages(sqs_client(Settings.from_env()), done) if done else 0
        raise queues.BatchIncomplete(failed, len(messages), deleted)
    return {"batchItemFailures": []}


def _process(record: events.S3ObjectEvent) -> dict[str, Any]:
    storage = get_storage(Settings.from_env())
    if record.bucket != storage.settings.bucket or not storage.is_original_key(record.key):
        log.warning("ignoring s3://%s/%s: not an original", record.bucket, record.key)
        return {"key": record.key, "status": "ignored"}
    with session_scope(storage.settings.database_url) as session:
        image = process_original(session, storage, record.key)
        log.info("image %s is %s", image.name, image.status, extra={"key": record.key})
        return {"key": record.key, "name": image.name, "status": image.status, "error": image.error}
