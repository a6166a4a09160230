"""Kitteh with S3 or PostgreSQL behind a :class:`~localcloud.faults.FaultyProxy`, for fault tests.

The app, the resize function and the health check talk to the dependency through
the proxy, exactly as they would to the real endpoint; the test reads the final
state of rows and objects around it, directly, so that a fault never hides what
was stored. Events are delivered by the test (one resize invocation per object, as
S3 would send), so that it decides when they arrive relative to the faults.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import NullPool, create_engine, select

from handlers.resize import handler
from kitteh.aws import s3_client
from kitteh.config import Settings
from kitteh.db import get_engine
from localcloud.faults import FaultyProxy
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import make_s3_event

#: Every page and API call must answer within this, whatever a dependency does.
ANSWER_WITHIN_SECONDS = 10.0


@dataclass
class Timed:
    """What a call returned (or raised), and how long it took."""

    seconds: float
    value: Any = None
    error: BaseException | None = None


def timed[T](call: Callable[[], T], *, give_up_after: float = ANSWER_WITHIN_SECONDS + 5) -> Timed:
    """Run ``call`` in a thread and time it; fail the test if it has not ended in time.

    A call that hangs (the bug) must not hang the suite: it is left running, and
    ends when the test lifts the fault or stops the proxy.
    """
    [outcome] = all_timed(call, give_up_after=give_up_after)
    return outcome


def all_timed(
    *calls: Callable[[], Any], give_up_after: float = ANSWER_WITHIN_SECONDS + 5
) -> list[Timed]:
    """:func:`timed` for several calls at once, as concurrent requests (and quicker)."""
    outcomes = [Timed(seconds=0.0) for _ in calls]
    started = time.monotonic()

    def run(call: Callable[[], Any], outcome: Timed) -> None:
        try:
            outcome.value = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.error = exc
        outcome.seconds = time.monotonic() - started

    threads = [
        threading.Thread(target=run, args=(call, outcome), name="timed-call", daemon=True)
        for call, outcome in zip(calls, outcomes, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, started + give_up_after - time.monotonic()))
        if thread.is_alive():
            raise AssertionError(f"no answer after {give_up_after:g} s: the call hangs")
    return outcomes


@dataclass
class FaultyStack:
    """The app and the resize function, one dependency behind ``proxy``."""

    settings: Settings
    proxy: FaultyProxy
    app: Flask
    #: Where the test itself reads the state, around the proxy.
    direct_s3: Any
    direct_database_url: str
    outcomes: list[Timed] = field(default_factory=list)

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def original_keys(self) -> list[str]:
        listed = self.direct_s3.list_objects_v2(
            Bucket=self.settings.bucket, Prefix=self.settings.originals_prefix
        )
        return [item["Key"] for item in listed.get("Contents", [])]

    def variant_keys(self) -> list[str]:
        listed = self.direct_s3.list_objects_v2(
            Bucket=self.settings.variants_bucket_name, Prefix=self.settings.variants_prefix
        )
        return [item["Key"] for item in listed.get("Contents", [])]

    def rows(self) -> list[tuple[str, str, str]]:
        """(name, status, original_key) of every image row, read around the proxy."""
        engine = create_engine(self.direct_database_url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                query = select(Image.name, Image.status, Image.original_key).order_by(Image.id)
                return [(str(n), str(s), str(k)) for n, s, k in connection.execute(query)]
        finally:
            engine.dispose()

    def deliver(self, key: str) -> Timed:
        """One resize invocation for ``key``'s object-created event, timed."""
        event = make_s3_event(self.settings.bucket, key)
        return timed(lambda: handler(event, LambdaContext()), give_up_after=90)

    def deliver_all(self) -> list[Timed]:
        """An event for every original in the bucket, as S3 sends them once stored."""
        return [self.deliver(key) for key in self.original_keys()]


@contextmanager
def app_for(settings: Settings) -> Iterator[Flask]:
    """The app as deployed (errors answered, not raised), on ``settings``."""
    from app import create_app

    app = create_app(settings)
    yield app
    get_engine(settings.database_url).dispose()


def make_buckets(settings: Settings, endpoint: str) -> Any:
    from dataclasses import replace

    s3 = s3_client(replace(settings, endpoint_url=endpoint))
    for bucket in dict.fromkeys((settings.bucket, settings.variants_bucket_name)):
        s3.create_bucket(Bucket=bucket)
    return s3
