"""Deliver S3 events from SQS to the resize handler, the way Lambda would.

Locally there is no Lambda service to invoke ``handlers.resize.handler`` when an
original lands in S3, so S3 notifies an SQS queue instead and this relay hands each
message body, unchanged, to the handler. The body *is* the event Lambda would
receive from a direct S3 trigger, so the handler runs the same code in both places.

The relay is deliberately not a queue of its own: SQS keeps the messages, and a
message is deleted only once the handler has returned. Like Lambda, which runs an
invocation per event side by side, the relay hands several events to the handler at
once: ``KITTEH_RELAY_CONCURRENCY`` of them (default :data:`DEFAULT_CONCURRENCY`), and
it receives no more messages than it has free hands for, so none waits in a local
line while its visibility timeout runs out. A failure simply leaves it
for SQS to show again after the visibility timeout and, after a few receives, to
move to the dead-letter queue (see :mod:`ops.bootstrap`). At-least-once, as on
AWS, so the handler must be idempotent there too.

Run it on its own with ``make relay`` (``python -m localcloud.relay``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING

from handlers.events import MalformedEvent, S3Event
from kitteh.aws import sqs_client
from kitteh.config import Settings
from kitteh.logs import configure_logging
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
#: Deliveries in flight at once. A resize is half decoding (CPU, Pillow releases the
#: GIL) and half S3 round trips, so a few more than the cores keep both busy.
DEFAULT_CONCURRENCY = 4


def concurrency_from_env() -> int:
    """``KITTEH_RELAY_CONCURRENCY``, or :data:`DEFAULT_CONCURRENCY`."""
    raw = os.environ.get("KITTEH_RELAY_CONCURRENCY", "").strip()
    if not raw:
        return DEFAULT_CONCURRENCY
    if not raw.isdecimal() or int(raw) < 1:
        raise ValueError(f"KITTEH_RELAY_CONCURRENCY must be a whole number >= 1, got {raw!r}")
    return int(raw)


class EventRelay:
    """Receive S3 events from an SQS queue and hand each to ``deliver``."""

    def __init__(
        self, sqs: SQSClient, queue_url: str, deliver: Deliver, *, concurrency: int | None = None
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.deliver = deliver
        self.concurrency = concurrency if concurrency is not None else concurrency_from_env()
        # Threads are started on the first delivery; idle ones end with the relay.
        self._workers = ThreadPoolExecutor(self.concurrency, thread_name_prefix="kitteh-relay")
        self._free = threading.BoundedSemaphore(self.concurrency)

    def poll_once(self, wait_seconds: int = RUN_WAIT_SECONDS) -> int:
        """Receive one batch (long-polling up to ``wait_seconds``), process it, wait for it.

        Returns how many messages were received, whatever became of them, so that
        0 means the queue had nothing visible.
        """
        messages = self._receive(MAX_MESSAGES, wait_seconds)
        wait([self._workers.submit(self._handle, message) for message in messages])
        return len(messages)

    def _receive(self, count: int, wait_seconds: int) -> list[MessageTypeDef]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return response.get("Messages", [])

    def _poll_free_hands(self, stop: threading.Event, wait_seconds: int) -> None:
        """Receive as many messages as deliveries may start now, and start them.

        Waits for a free hand first; SQS errors propagate with every hand given back.
        """
        while not self._free.acquire(timeout=0.2):
            if stop.is_set():
                return
        hands = 1
        while hands < min(self.concurrency, MAX_MESSAGES) and self._free.acquire(blocking=False):
            hands += 1
        try:
            messages = self._receive(hands, wait_seconds)
        except BaseException:
            for _ in range(hands):
                self._free.release()
            raise
        for _ in range(hands - len(messages)):
            self._free.release()
        for message in messages:
            future = self._workers.submit(self._handle, message)
            future.add_done_callback(lambda _done: self._free.release())

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
        log.info("relay.started queue_url=%s concurrency=%s", self.queue_url, self.concurrency)
        backoff = 1.0
        while not stop.is_set():
            try:
                self._poll_free_hands(stop, wait_seconds)
            except Exception:
                # A handler failure never gets here (poll_once keeps those per
                # message); this is SQS itself being unreachable or refusing us.
                log.exception("relay.receive_failed retry_in_s=%.0f", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            else:
                backoff = 1.0
        # Deliveries under way finish (and delete their message) before the relay stops;
        # a fresh pool lets the relay run again.
        self._workers.shutdown(wait=True)
        self._workers = ThreadPoolExecutor(self.concurrency, thread_name_prefix="kitteh-relay")
        log.info("relay.stopped queue_url=%s", self.queue_url)


def main() -> int:
    """Run the relay from the environment's settings, delivering to the resize handler."""
    # The handler's own set-up, done first: plain lines that end with each
    # invocation's fields (its request id), at LOG_LEVEL.
    configure_logging()
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
