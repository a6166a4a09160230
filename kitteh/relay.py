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
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kitteh.aws import sqs_client
from kitteh.config import Settings

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], object]

#: SQS hands out at most ten messages per receive.
MAX_MESSAGES = 10
#: Long-poll wait of :meth:`EventRelay.run`; short so that stopping is quick.
RUN_WAIT_SECONDS = 2
#: Longest pause between attempts while SQS itself is unreachable.
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class LocalLambdaContext:
    """Stand-in for the context object Lambda passes to a handler.

    It carries the attributes handlers and AWS Lambda Powertools read, with one
    fresh ``aws_request_id`` per invocation, and a deadline so that
    :meth:`get_remaining_time_in_millis` counts down as it does on Lambda.
    """

    function_name: str = "kitteh-resize"
    memory_limit_in_mb: int = 1024
    #: The function's timeout; kept below the queue's visibility timeout.
    timeout_seconds: float = 60.0
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: object | None = None
    client_context: object | None = None
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}"
            )
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would have stopped this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_invoker(handler: Callable[[dict[str, Any], Any], object], **context: Any) -> Deliver:
    """Bind ``handler`` to a fresh :class:`LocalLambdaContext` per invocation.

    ``context`` holds the context's fields (``function_name``, ``timeout_seconds``…).
    """

    def deliver(event: dict[str, Any]) -> object:
        return handler(event, LocalLambdaContext(**context))

    return deliver


def is_test_event(body: object) -> bool:
    """True for the ``s3:TestEvent`` S3 sends when a notification is configured."""
    return isinstance(body, dict) and body.get("Event") == "s3:TestEvent"


def is_s3_event(body: object) -> bool:
    """True for an S3 event notification: a ``Records`` list of ``aws:s3`` records."""
    if not isinstance(body, dict):
        return False
    records = body.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def _object_keys(event: dict[str, Any]) -> list[str]:
    return [str(r.get("s3", {}).get("object", {}).get("key")) for r in event["Records"]]


class EventRelay:
    """Receive S3 events from an SQS queue and hand each to ``deliver``."""

    def __init__(self, sqs: Any, queue_url: str, deliver: Deliver) -> None:
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

    def _handle(self, message: dict[str, Any]) -> None:
        message_id = message.get("MessageId")
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        try:
            body = json.loads(message.get("Body", ""))
        except ValueError:
            # Left in the queue on purpose: after the redrive policy's receives it
            # lands in the dead-letter queue, where someone can look at it.
            log.error("relay.unreadable message_id=%s receives=%s", message_id, receives)
            return
        if is_test_event(body):
            log.info("relay.test_event message_id=%s bucket=%s", message_id, body.get("Bucket"))
            self._delete(message)
            return
        if not is_s3_event(body):
            log.error("relay.not_s3_event message_id=%s receives=%s", message_id, receives)
            return

        keys = _object_keys(body)
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

    def _delete(self, message: dict[str, Any]) -> None:
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
