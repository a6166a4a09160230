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

from handlers import queues
from handlers.events import MalformedEvent, S3Event, S3Record, SQSEvent, is_sqs_event
from kitteh.aws import sqs_client
from kitteh.config import Settings
from kitteh.db import transaction
from kitteh.logs import configure_logging, inject_lambda_context, log_fields
from kitteh.processing import process_original
from kitteh.storage import get_storage

log = logging.getLogger(__name__)


@inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process every record of an S3 event, or every message of an SQS batch.

    An event that cannot be read is answered with the reason and logged, not raised:
    retrying it cannot help. A broken record does not stop the others.
    """
    configure_logging()
    if is_sqs_event(event):
        return _handle_sqs_batch(SQSEvent.from_dict(event))
    try:
        s3_event = S3Event.from_dict(event)
    except MalformedEvent as exc:
        log.error("malformed event refused: %s", exc)
        return {"processed": [], "malformed": [str(exc)]}
    return _handle_s3_event(s3_event)


def _handle_s3_event(event: S3Event) -> dict[str, Any]:
    processed = []
    for record in event.object_created:
        with log_fields(key=record.key):  # what the core logs for it says which object
            processed.append(_process(record))
    result: dict[str, Any] = {"processed": processed}
    if event.malformed:
        log.error("malformed records left out: %s", "; ".join(event.malformed))
        result["malformed"] = list(event.malformed)
    return result


def _handle_sqs_batch(event: SQSEvent) -> dict[str, Any]:
    # Only the failed messages may go back to the queue, to be retried and in the end
    # dead-lettered, whether or not the mapping has ReportBatchItemFailures on: so a
    # partial failure deletes what succeeded and raises (handlers.queues says why).
    done, failed = [], []
    for message in event.records:
        try:
            _handle_s3_event(S3Event.from_json(message.body))
        except Exception:
            # Named for the logs only: what comes back is whatever was not deleted,
            # so a message without an id (never sent by Lambda) is retried all the same.
            label = message.message_id or "(a message without messageId)"
            log.exception("message %s failed; SQS will retry it", label)
            failed.append(label)
        else:
            done.append((message.queue_arn, message.message_id or "", message.receipt_handle))
    if failed:
        deleted = queues.delete_messages(sqs_client(Settings.from_env()), done) if done else 0
        raise queues.BatchIncomplete(failed, len(event.records), deleted)
    return {"batchItemFailures": []}


def _process(record: S3Record) -> dict[str, Any]:
    storage = get_storage(Settings.from_env())
    if record.bucket != storage.settings.bucket or not storage.is_original_key(record.key):
        log.warning("ignoring s3://%s/%s: not an original", record.bucket, record.key)
        return {"key": record.key, "status": "ignored", "error": "not an original"}
    with transaction(storage.settings.database_url) as session:
        image = process_original(session, storage, record.key)
        if image is None:
            return {"key": record.key, "status": "ignored", "error": "no upload was granted for it"}
        with log_fields(name=image.name):  # not extra=: LogRecord has a "name" of its own
            log.info("image %s is %s", image.name, image.status)
        return {"key": record.key, "name": image.name, "status": image.status, "error": image.error}
