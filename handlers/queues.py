"""SQS batches that lose no message, whatever the event source mapping says.

Lambda's SQS poller deletes a batch's messages itself when the function returns:
all of them, unless the mapping has ``ReportBatchItemFailures`` on, in which case it
keeps those the answer lists under ``batchItemFailures``. Zappa creates mappings
without that setting, and a mapping made or edited by hand may lack it too; a
function that answers a partial failure by returning ``batchItemFailures`` would
then have its failed messages deleted, and the dead-letter queue would stay empty.

So a batch with failures is answered by raising (the poller then deletes nothing,
whatever the setting), after deleting the messages that succeeded ourselves, so
that only the failed ones come back. If those deletes fail, the whole batch comes
back: processing an original twice gives the same result, losing one does not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import groupby
from typing import Any

log = logging.getLogger(__name__)

#: SQS deletes at most ten messages per call.
_DELETE_BATCH_SIZE = 10


class BatchIncomplete(RuntimeError):
    """Some messages of an SQS batch failed; they go back to the queue.

    Raised as the function's answer, so that the poller deletes nothing itself; the
    messages that succeeded were deleted already (``deleted`` says how many).
    """

    def __init__(self, failed: list[str], total: int, deleted: int) -> None:
        super().__init__(
            f"{len(failed)} of {total} messages failed and return to the queue: {', '.join(failed)}"
        )
        self.failed = failed
        self.deleted = deleted


def queue_url(sqs: Any, queue_arn: str) -> str:
    """Return the URL of the queue ``queue_arn`` names (the API wants URLs, events carry ARNs)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def delete_messages(sqs: Any, messages: Iterable[tuple[str, str, str]]) -> int:
    """Delete ``(queue_arn, message_id, receipt_handle)`` messages; return how many went.

    Never raises: a message left undeleted is only received again.
    """
    deleted = 0
    for arn, group in groupby(sorted(messages), key=lambda message: message[0]):
        entries = [
            {"Id": str(i), "ReceiptHandle": handle} for i, (_, _, handle) in enumerate(group)
        ]
        try:
            url = queue_url(sqs, arn)
            for start in range(0, len(entries), _DELETE_BATCH_SIZE):
                deleted += _delete_batch(sqs, url, entries[start : start + _DELETE_BATCH_SIZE])
        except Exception:
            log.exception("could not delete processed messages from %s; they come back", arn)
    return deleted


def _delete_batch(sqs: Any, url: str, entries: list[dict[str, str]]) -> int:
    response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    for failure in response.get("Failed", []):
        log.warning("SQS kept a processed message (it comes back): %s", failure)
    return len(response.get("Successful", []))
