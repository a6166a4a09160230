"""Deliver S3 events from SQS to the resize handler, the way Lambda would.

Locally there is no Lambda service to invoke ``handlers.resize.handler`` when an
original lands in S3, so S3 notifies an SQS queue instead and this relay hands each
message body, unchanged, to the handler. The body *is* the event Lambda would
receive from a direct S3 trigger, so the handler runs the same code in both places.

The relay is deliberately not a queue of its own: SQS keeps the messages, and a
message is deleted only once the handler has returned. A failure simply leaves it
for SQS to show again after the visibility timeout and, after a few receives, to
move to the dead-letter queue (see :mod:`kitteh.bootstrap`). At-least-once, as on
AWS, so the handler must be idempotent there too.

Run it on its own with ``make relay`` (``python -m localcloud.relay``).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kitteh.aws import sqs_client
from kitteh.config import Settings
from kitteh.events import MalformedEvent, S3Event
from localcloud.runtime import Deliver, lambda_invoker

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

#: SQS hands out at most ten messages per receive.
MAX_MESSAGES = 10
#: Long-poll wait of :meth:`EventRelay.run`; short so that stopping is quick.
RUN_WAIT_SECONDS = 2
#: Longest pause between attempts while SQS itself is unreachable.
MAX_BACKOFF_SECONDS = 30.0


class EventRelay:
    """Receive S3 events from an SQS queue and hand each to ``deliver``."""

    def __init__(self, sqs: SQSClient, queue_url: str, deliver: Deliver) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.deliver = deliver

    def poll_once(self, wait_seconds: int = RUN_WAIT_SECONDS) -> int:
        """Receive one batch (long-polling up to ``wait_seconds``) and process it.

        Returns how many messages were received, whatever became of them, so that
        0 means the queue had nothing visible.
        """
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        for message in messages:
            self._handle(message)
        return len(messages)

    def _handle(self, message: MessageTypeDef) -> None:
        message_id = message.get("MessageId")
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        try:
            body = json.loads(message.get("Body", ""))
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # Left in the queue on purpose: after the redrive policy's receives it
            # lands in the dead-letter queue, where someone can look at it.
            log.error("relay.unreadable message_id=%s receives=%s", message_id, receives)
            return
        try:
            event: S3Event | None = S3Event.from_dict(body)
        except MalformedEvent:
            # Delivered all the same: Lambda passes on whatever the queue holds, and the
            # function's refusal sends it round the retries to the dead-letter queue.
            event = None
        if event is not None and event.is_test_event:
            log.info("relay.test_event message_id=%s bucket=%s", message_id, body.get("Bucket"))
            self._delete(message)
            return
        keys = event.keys if event is not None else []

        started = time.monotonic()
        try:
            self.deliver(body)
        except Exception:
            log.exception(
                "relay.failed message_id=%s receives=%s keys=%s", message_id, receives, keys
            )
            return
        elapsed_ms = (time.monotonic() - started) * 1000
        self._delete(message)
        log.info(
            "relay.delivered message_id=%s receives=%s keys=%s duration_ms=%.0f",
            message_id,
            receives,
            keys,
            elapsed_ms,
        )

    def _delete(self, message: MessageTypeDef) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    @contextmanager
    def running(self, *, wait_seconds: int = RUN_WAIT_SECONDS) -> Iterator[None]:
        """Run the relay in a background thread for the duration of a ``with`` block."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run,
            args=(stop,),
            kwargs={"wait_seconds": wait_seconds},
            name="kitteh-relay",
            daemon=True,
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            # A long poll in flight ends within wait_seconds; a delivery may take longer.
            thread.join(timeout=wait_seconds + 30)

    def run(self, stop: threading.Event, *, wait_seconds: int = RUN_WAIT_SECONDS) -> None:
        """Poll until ``stop`` is set; SQS outages are logged and retried with backoff."""
        log.info("relay.started queue_url=%s", self.queue_url)
        backoff = 1.0
        while not stop.is_set():
            try:
                self.poll_once(wait_seconds=wait_seconds)
            except Exception:
                # A handler failure never gets here (poll_once keeps those per
                # message); this is SQS itself being unreachable or refusing us.
                log.exception("relay.receive_failed retry_in_s=%.0f", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            else:
                backoff = 1.0
        log.info("relay.stopped queue_url=%s", self.queue_url)


def main() -> int:
    """Run the relay from the environment's settings, delivering to the resize handler."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Imported here: the handler pulls in Pillow, which nothing else in this module
    # (nor its tests) needs.
    from handlers.resize import handler

    settings = Settings.from_env()
    sqs = sqs_client(settings)
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    relay = EventRelay(sqs, queue_url, lambda_invoker(handler, region=settings.region))

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("relay.stopping signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    relay.run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
