"""localcloud.relay against moto: S3 -> SQS -> relay -> handler, and what happens on failure."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import unquote_plus

import pytest

from handlers.events import S3Event
from kitteh.aws import s3_client, sqs_client
from kitteh.config import Settings
from localcloud.relay import EventRelay
from localcloud.runtime import LambdaContext, lambda_invoker
from ops.bootstrap import MAX_RECEIVE_COUNT, bootstrap
from tests.support.lambda_events import load_event


class Recorder:
    """A deliver function that records events and fails while ``fail`` is set."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = False

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self.fail:
            raise RuntimeError("resize failed")


class Stack:
    """Bootstrapped moto S3 + SQS, a recording deliver function and a relay on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.summary = bootstrap(settings)
        self.s3 = s3_client(settings)
        self.sqs = sqs_client(settings)
        self.deliver = Recorder()
        self.relay = EventRelay(self.sqs, self.summary["queue_url"], self.deliver)

    def put(self, key: str) -> None:
        self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=b"\xff\xd8 not really")

    def counts(self, url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages in the queue, or in ``url``."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.summary["queue_url"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def make_retries_immediate(self) -> None:
        self.sqs.set_queue_attributes(
            QueueUrl=self.summary["queue_url"], Attributes={"VisibilityTimeout": "0"}
        )


@pytest.fixture
def stack(mocked_aws: None) -> Stack:
    stack = Stack(Settings())
    # Setting up the notification made S3 send its s3:TestEvent; start from an empty queue.
    stack.relay.poll_once(wait_seconds=0)
    assert stack.counts() == (0, 0)
    return stack


def test_setting_up_the_notification_sends_a_test_event_that_is_skipped(mocked_aws: None) -> None:
    stack = Stack(Settings())

    assert stack.relay.poll_once(wait_seconds=0) == 1

    assert stack.deliver.events == []
    assert stack.counts() == (0, 0)


def test_original_upload_is_delivered_as_is_then_deleted(stack: Stack) -> None:
    stack.put("originals/ab/some key+plus-é.jpg")

    [message] = stack.sqs.receive_message(QueueUrl=stack.summary["queue_url"])["Messages"]
    stack.sqs.change_message_visibility(
        QueueUrl=stack.summary["queue_url"],
        ReceiptHandle=message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    assert stack.relay.poll_once(wait_seconds=0) == 1

    [event] = stack.deliver.events
    assert event == json.loads(message["Body"])
    [record] = event["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == stack.settings.bucket
    # Keys arrive form-encoded (space as "+"), so handlers must unquote_plus them.
    # moto also encodes "/" as %2F, which AWS and LocalStack leave as it is.
    key = record["s3"]["object"]["key"]
    assert key.replace("%2F", "/") == "originals/ab/some+key%2Bplus-%C3%A9.jpg"
    assert unquote_plus(key) == "originals/ab/some key+plus-é.jpg"
    assert stack.counts() == (0, 0)


def test_variant_upload_produces_no_message(stack: Stack) -> None:
    stack.put("variants/ab/thumb.jpg")

    assert stack.relay.poll_once(wait_seconds=0) == 0
    assert stack.deliver.events == []


def test_failed_delivery_keeps_the_message_for_a_retry(stack: Stack) -> None:
    stack.deliver.fail = True
    stack.put("originals/cat.jpg")

    assert stack.relay.poll_once(wait_seconds=0) == 1

    assert len(stack.deliver.events) == 1
    assert stack.counts() == (0, 1)  # hidden until the visibility timeout, not deleted


def test_retry_succeeds_after_a_failure(stack: Stack) -> None:
    stack.make_retries_immediate()
    stack.deliver.fail = True
    stack.put("originals/cat.jpg")
    stack.relay.poll_once(wait_seconds=0)

    stack.deliver.fail = False
    assert stack.relay.poll_once(wait_seconds=0) == 1

    assert len(stack.deliver.events) == 2
    assert stack.deliver.events[0] == stack.deliver.events[1]
    assert stack.counts() == (0, 0)


def test_event_that_keeps_failing_ends_in_the_dlq(stack: Stack) -> None:
    stack.make_retries_immediate()
    stack.deliver.fail = True
    stack.put("originals/poison.jpg")

    for _ in range(MAX_RECEIVE_COUNT + 2):
        stack.relay.poll_once(wait_seconds=0)

    assert len(stack.deliver.events) == MAX_RECEIVE_COUNT
    assert stack.counts() == (0, 0)
    assert stack.counts(stack.summary["dlq_url"]) == (1, 0)


@pytest.mark.parametrize("body", ["not json {", "[1, 2]"])
def test_unusable_message_is_left_for_the_dlq(stack: Stack, body: str) -> None:
    stack.sqs.send_message(QueueUrl=stack.summary["queue_url"], MessageBody=body)

    assert stack.relay.poll_once(wait_seconds=0) == 1

    assert stack.deliver.events == []
    assert stack.counts() == (0, 1)


def test_any_other_json_object_is_delivered_for_the_function_to_judge(stack: Stack) -> None:
    # As Lambda passes on whatever a queue holds: the resize function refuses it
    # (MalformedEvent), and the retries take it to the dead-letter queue.
    body = {"Records": [{"eventSource": "aws:sns"}]}
    stack.sqs.send_message(QueueUrl=stack.summary["queue_url"], MessageBody=json.dumps(body))

    assert stack.relay.poll_once(wait_seconds=0) == 1

    assert stack.deliver.events == [body]


def test_run_delivers_until_stopped(stack: Stack) -> None:
    stack.put("originals/a.jpg")
    stop = threading.Event()
    thread = threading.Thread(target=stack.relay.run, args=(stop,), kwargs={"wait_seconds": 0})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not stack.deliver.events and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert not thread.is_alive()
    assert len(stack.deliver.events) == 1


def test_run_survives_sqs_errors() -> None:
    stop = threading.Event()
    calls = []

    class BrokenSqs:
        def receive_message(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            stop.set()
            raise ConnectionError("no SQS here")

    EventRelay(BrokenSqs(), "http://nowhere/queue", Recorder()).run(stop)

    assert len(calls) == 1  # logged, not raised; and the stop was honoured


def test_lambda_invoker_gives_each_invocation_a_fresh_context() -> None:
    contexts: list[LambdaContext] = []
    deliver = lambda_invoker(
        lambda event, context: contexts.append(context), function_name="resize"
    )

    deliver({"Records": []})
    deliver({"Records": []})

    first, second = contexts
    assert first.aws_request_id != second.aws_request_id
    assert first.function_name == "resize"
    assert first.invoked_function_arn.endswith(":function:resize")
    assert 0 < first.get_remaining_time_in_millis() <= 60_000


def test_localstack_sample_event_is_an_s3_event() -> None:
    event = S3Event.from_dict(load_event("localstack_object_created.json"))
    assert [record.is_object_created for record in event.records] == [True]


class Overlapping:
    """A deliver function that holds each delivery until ``parties`` run at once.

    Run one at a time, the first delivery waits in vain and the barrier breaks.
    """

    def __init__(self, stack: Stack, parties: int) -> None:
        self.stack = stack
        self.barrier = threading.Barrier(parties, timeout=5)
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.in_queue_while_running: list[tuple[int, int]] = []
        self.fail_key: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.barrier.wait()
            # Still in the queue (in flight) while its handler runs: deleted only after.
            self.in_queue_while_running.append(self.stack.counts())
            key = S3Event.from_dict(event).keys[0]
            if key == self.fail_key:
                raise RuntimeError("resize failed")
        finally:
            with self.lock:
                self.running -= 1


def test_events_are_delivered_side_by_side_as_lambda_would(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a relay configured for three concurrent deliveries, and three events
    monkeypatch.setenv("KITTEH_RELAY_CONCURRENCY", "3")
    deliver = Overlapping(stack, parties=3)
    relay = EventRelay(stack.sqs, stack.summary["queue_url"], deliver)
    deliver.fail_key = "originals/b.jpg"
    for name in ("a", "b", "c"):
        stack.put(f"originals/{name}.jpg")

    # WHEN the relay runs until all three were handled
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"wait_seconds": 0})
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while len(deliver.in_queue_while_running) < 3 and time.monotonic() < deadline:
            if not thread.is_alive():
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=15)

    # THEN they ran at the same time, each message still in the queue while it ran
    assert deliver.most_at_once == 3, f"{deliver.most_at_once} delivery at a time"
    assert all(in_flight >= 1 for _visible, in_flight in deliver.in_queue_while_running)
    # AND afterwards only the failed one is left, hidden until SQS shows it again
    assert stack.counts() == (0, 1)


def test_concurrency_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITTEH_RELAY_CONCURRENCY", "7")
    assert EventRelay(None, "http://nowhere/queue", Recorder()).concurrency == 7  # type: ignore[arg-type]
    monkeypatch.setenv("KITTEH_RELAY_CONCURRENCY", "0")
    with pytest.raises(ValueError, match="KITTEH_RELAY_CONCURRENCY"):
        EventRelay(None, "http://nowhere/queue", Recorder())  # type: ignore[arg-type]
