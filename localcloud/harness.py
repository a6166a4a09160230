"""A private Kitteh stack on LocalStack, shared by the tests and the benchmarks.

LocalStack may be shared with other runs (``make test``, ``make run``, another
bench), so a private stack has a bucket and queues of its own, named after the run
(``kitteh-it-<random>``), and removes them afterwards. Settings reach the code
through the environment, as in production: the app, the resize handler and the
relay thread all read ``Settings.from_env()``, so :func:`environment` sets it up
before :meth:`PrivateStack.running` bootstraps and relays.

The relay hands each event to a :class:`RecordingInvoker`, which runs the resize
function and records every delivery, stamped with this process's clock: what the
tests inspect (did a variant's write reach the queue?) and what the benchmarks time
(queue wait versus handler time).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from handlers.events import MalformedEvent, S3Event
from kitteh.aws import s3_client, sqs_client
from kitteh.config import Settings
from kitteh.storage import get_storage
from localcloud.relay import EventRelay
from localcloud.runtime import Deliver, lambda_invoker
from ops.bootstrap import bootstrap

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from mypy_boto3_sqs import SQSClient

LOCALSTACK_URL = "http://127.0.0.1:4566"
#: Canaries go through S3 → SQS → relay like any original, but are not handed to the
#: resize function, so they leave no image behind (:meth:`PrivateStack.settle`).
CANARY_PREFIX = "originals/canary-"
#: Long-poll of the relay thread: short, so that stopping it is quick. LocalStack
#: answers a long poll as soon as a message arrives, so this adds no latency.
RELAY_WAIT_SECONDS = 1

#: Settings a developer's shell may hold that would point a private stack elsewhere.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "KITTEH_VARIANTS_BUCKET",
    "KITTEH_PUBLIC_ENDPOINT_URL",
    "KITTEH_MEDIA_BASE_URL",
    "KITTEH_CORS_ORIGINS",
    "KITTEH_PRESIGN_EXPIRY",
    "KITTEH_MAX_UPLOAD_BYTES",
    "MAX_CONTENT_LENGTH",
    "KITTEH_MAX_PIXELS",
)


def localstack_problem(endpoint: str = LOCALSTACK_URL) -> str | None:
    """Why LocalStack's S3 and SQS cannot be used at ``endpoint``, or None when they can."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=3) as answer:
            services = json.load(answer).get("services", {})
    except (OSError, ValueError) as exc:
        return f"LocalStack does not answer at {endpoint} ({exc})"
    down = [s for s in ("s3", "sqs") if services.get(s) not in ("running", "available")]
    return f"LocalStack at {endpoint} does not run {', '.join(down)}" if down else None


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str | Callable[[], str]) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that.

    Events travel S3 → SQS → relay → handler asynchronously, so callers wait for
    outcomes instead of sleeping a fixed time. ``what`` names the outcome in the
    error; a callable is asked only then, so it can describe the state at the time out.

    :raise TimeoutError: ``condition`` stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {described}")
        time.sleep(0.05)


# Environment -------------------------------------------------------------------


def stack_environment(run_name: str, endpoint: str = LOCALSTACK_URL) -> dict[str, str | None]:
    """The environment of a private stack: ``endpoint``, fake keys, this run's names.

    ``test`` keys: LocalStack derives the account from the key, and ``test`` is its
    default account, which the queue policy written by the bootstrap names. Empty
    AWS config files keep a developer's real profile (and keys) out of it.
    """
    no_config = os.path.join(tempfile.gettempdir(), f"{run_name}-no-aws-config")
    env: dict[str, str | None] = dict.fromkeys(_CLEARED)
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=no_config,
        AWS_SHARED_CREDENTIALS_FILE=no_config,
        AWS_ENDPOINT_URL=endpoint,
        KITTEH_BUCKET=run_name,
        KITTEH_QUEUE=run_name,
        SECRET_KEY=f"{run_name}-secret",
    )
    return env


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables; restore them afterwards.

    The process's cached :class:`~kitteh.storage.Storage` is dropped on the way in and
    out: one built from other settings must not be reused.
    """
    saved = {name: os.environ.get(name) for name in values}
    _apply(values)
    get_storage.cache_clear()
    try:
        yield
    finally:
        _apply(saved)
        get_storage.cache_clear()


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# Deliveries --------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One invocation by the relay and how it ended, in ``time.perf_counter()`` seconds."""

    event: dict[str, Any]
    keys: list[str]
    started: float
    ended: float
    result: object = None
    error: BaseException | None = None


class RecordingInvoker:
    """The relay's ``deliver``: invokes the function and records every delivery."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._deliveries: list[Delivery] = []
        self._changed = threading.Condition()

    def __call__(self, event: dict[str, Any]) -> object:
        try:
            keys = S3Event.from_dict(event).keys
        except MalformedEvent:
            keys = []
        started = time.perf_counter()
        if keys and all(key.startswith(CANARY_PREFIX) for key in keys):
            self._add(Delivery(event, keys, started, started))
            return None
        try:
            result = self._deliver(event)
        except Exception as exc:
            self._add(Delivery(event, keys, started, time.perf_counter(), error=exc))
            raise
        self._add(Delivery(event, keys, started, time.perf_counter(), result=result))
        return result

    def _add(self, delivery: Delivery) -> None:
        with self._changed:
            self._deliveries.append(delivery)
            self._changed.notify_all()

    @property
    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    def for_key(self, key: str) -> list[Delivery]:
        with self._changed:
            return self._of(key)

    def keys_under(self, prefix: str) -> list[str]:
        return [key for d in self.deliveries for key in d.keys if key.startswith(prefix)]

    def wait(self, key: str, timeout: float) -> Delivery:
        """The first delivery of ``key``, waiting for it to end.

        :raise TimeoutError: none ended within ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._of(key), timeout):
                raise TimeoutError(f"the function was never invoked for {key}")
            return self._of(key)[0]

    def _of(self, key: str) -> list[Delivery]:
        return [d for d in self._deliveries if key in d.keys]


# The stack ---------------------------------------------------------------------


class PrivateStack:
    """This run's bucket and queues on LocalStack, fed to the resize function by a relay."""

    def __init__(self, settings: Settings, summary: Mapping[str, Any], invoker: RecordingInvoker):
        self.settings = settings
        self.queue_url: str = summary["queue_url"]
        self.dlq_url: str = summary["dlq_url"]
        self.s3: S3Client = s3_client(settings)
        self.sqs: SQSClient = sqs_client(settings)
        self.invoker = invoker

    @classmethod
    @contextmanager
    def running(
        cls, deliver: Deliver | None = None, *, relay_wait_seconds: int = RELAY_WAIT_SECONDS
    ) -> Iterator[Self]:
        """Bootstrap from the environment's settings, relay events; remove it all afterwards.

        ``deliver`` defaults to the resize function, invoked as Lambda would.
        """
        settings = Settings.from_env()
        if deliver is None:
            from handlers.resize import handler  # Pillow and the ORM: only when asked for

            deliver = lambda_invoker(handler, region=settings.region)
        stack = cls(settings, bootstrap(settings), RecordingInvoker(deliver))
        # The handler's S3 client is made now, not inside the first delivery.
        _ = get_storage(settings).client
        try:
            relay = EventRelay(stack.sqs, stack.queue_url, stack.invoker)
            with relay.running(wait_seconds=relay_wait_seconds):
                # Setting up the notification made S3 send an s3:TestEvent; let it pass.
                stack.wait_until_queues_empty(timeout=10)
                yield stack
        finally:
            stack.remove()

    # Queues -------------------------------------------------------------------

    def counts(self, queue_url: str) -> tuple[int, int]:
        """(visible, in flight) messages of ``queue_url``."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def wait_until_queues_empty(self, timeout: float = 5) -> None:
        """Wait until the queue and its DLQ hold nothing, visible or in flight.

        A delivered message is deleted just after the handler returns, hence a wait.
        """
        wait_for(
            lambda: self.counts(self.queue_url) == (0, 0) and self.counts(self.dlq_url) == (0, 0),
            timeout=timeout,
            what=lambda: (
                f"empty queues; (visible, in flight) queue="
                f"{self.counts(self.queue_url)} dlq={self.counts(self.dlq_url)}"
            ),
        )

    def set_visibility_timeout(self, seconds: int) -> None:
        """Change the queue's visibility timeout, effective from the relay's next receive.

        LocalStack applies the timeout a receive started with, and the relay is always
        in a long poll: an ``s3:TestEvent`` (which the relay deletes unseen) ends the
        current poll, so once it is gone every later receive sees the new timeout.
        """
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"VisibilityTimeout": str(seconds)}
        )
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps({"Event": "s3:TestEvent"})
        )
        wait_for(
            lambda: self.counts(self.queue_url) == (0, 0),
            timeout=10,
            what="the relay to take a test event",
        )

    def settle(self, timeout: float = 10) -> None:
        """Wait until every event S3 sent so far has been through the relay.

        A canary object written now reaches the relay after the events of earlier
        writes (LocalStack sends them from a thread pool, so a few hundred ms of grace
        cover a rare reordering): a short, bounded wait for "nothing happens", instead
        of sleeping long enough for the slowest machine.
        """
        key = f"{CANARY_PREFIX}{uuid.uuid4().hex}"
        self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=b"canary")
        wait_for(lambda: self.invoker.for_key(key), timeout=timeout, what=f"canary {key}")
        time.sleep(0.3)
        self.s3.delete_object(Bucket=self.settings.bucket, Key=key)

    # Objects ------------------------------------------------------------------

    def object_exists(self, key: str, bucket: str | None = None) -> bool:
        listed = self.s3.list_objects_v2(Bucket=bucket or self.settings.bucket, Prefix=key)
        return any(item.get("Key") == key for item in listed.get("Contents", []))

    def remove(self) -> None:
        """Delete this run's objects, buckets and queues (never anyone else's)."""
        for bucket in dict.fromkeys((self.settings.bucket, self.settings.variants_bucket_name)):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"]} for item in page.get("Contents", []) if "Key" in item
                ]
                if keys:
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            self.s3.delete_bucket(Bucket=bucket)
        for url in (self.queue_url, self.dlq_url):
            self.sqs.delete_queue(QueueUrl=url)
