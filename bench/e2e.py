"""End to end on LocalStack + PostgreSQL: a presigned upload landing in S3 -> ``ready``.

Each upload takes the path a browser's large upload takes: ``POST /api/uploads`` to
the app (Flask test client), then a real multipart POST of the file to LocalStack's
presigned URL. The clock starts when S3's answer to that POST is received; from then
on it is S3 -> SQS notification -> relay -> resize function -> commit, and the bench
polls the database every :data:`POLL_INTERVAL_S` until the row says ``ready``.

Uploads run one at a time (the next starts once the previous is ready), so this is
the latency of an idle stack, not its throughput. The relay's deliveries are
stamped in this process (:class:`localcloud.harness.RecordingInvoker`), which splits the
time into queue wait (S3's notification, SQS, the relay's long poll) and handler
time, and shows what the polling itself adds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import requests
from flask.testing import FlaskClient
from sqlalchemy import Connection, NullPool, create_engine, select

from bench.common import IMAGES_DIR
from bench.latency import summarise
from kitteh.db import get_engine
from kitteh.migrate import upgrade
from localcloud.harness import PrivateStack, RecordingInvoker, environment
from localcloud.postgres import throwaway_database
from models import Image, ImageStatus

IMAGE = IMAGES_DIR / "phone12.jpg"
UPLOADS = 50
#: Not counted: the first runs pay for connections and lazy imports once.
WARMUP = 3
#: How often the database is asked whether the image is ready. A ready image is
#: seen at most one interval (plus one query) after its commit.
POLL_INTERVAL_S = 0.010
#: A healthy upload is ready in well under a second; this only bounds a broken one.
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Sample:
    """One upload's timings, in milliseconds."""

    grant_ms: float  # POST /api/uploads (presigned POST handed out)
    s3_post_ms: float  # the file's multipart POST to S3
    ready_ms: float  # S3's answer received -> ready seen by polling
    handler_end_ms: float  # S3's answer received -> resize function returned (commit done)
    queue_ms: float  # S3's answer received -> resize function invoked
    handler_ms: float  # resize function invoked -> returned


def run() -> dict[str, Any]:
    """Upload ``IMAGE`` WARMUP + UPLOADS times and summarise the counted uploads."""
    from app import create_app  # imported here: the module builds an app from the env

    data = IMAGE.read_bytes()
    with (
        throwaway_database("kitteh_bench_e2e") as url,
        environment({"DATABASE_URL": url}),
    ):
        upgrade(url)
        with PrivateStack.running() as stack:
            app = create_app()
            storage = app.extensions["kitteh.storage"]
            _ = storage.client, storage.public_client  # built now, not in the first timed request
            samples = _upload_many(app.test_client(), stack.invoker, url, data)
        get_engine(url).dispose()
    counted = samples[WARMUP:]
    return {
        "image": IMAGE.name,
        "bytes": len(data),
        "uploads": len(counted),
        "warmup_uploads": WARMUP,
        "poll_interval_ms": POLL_INTERVAL_S * 1000,
        "client": "Flask test client for the app; requests for the POST to LocalStack's S3",
        **{
            field: summarise([getattr(s, field) for s in counted])
            for field in Sample.__dataclass_fields__
        },
        "warmup_ready_ms": [round(s.ready_ms, 1) for s in samples[:WARMUP]],
    }


def _upload_many(
    client: FlaskClient, invoker: RecordingInvoker, database_url: str, data: bytes
) -> list[Sample]:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as db, requests.Session() as http:
            samples = []
            for i in range(WARMUP + UPLOADS):
                samples.append(_upload_once(client, http, db, invoker, data))
                if (i + 1) % 10 == 0:
                    print(f"  upload->ready: {i + 1}/{WARMUP + UPLOADS}", file=sys.stderr)
            return samples
    finally:
        engine.dispose()


def _upload_once(
    client: FlaskClient,
    http: requests.Session,
    db: Connection,
    invoker: RecordingInvoker,
    data: bytes,
) -> Sample:
    """One presigned upload, timed from S3's answer to the row reading ``ready``."""
    t_grant = time.perf_counter()
    grant = _grant(client, len(data))
    t_post = time.perf_counter()
    answer = http.post(
        grant["url"],
        data=grant["fields"],
        files={"file": (IMAGE.name, data, "image/jpeg")},
        timeout=60,
    )
    t0 = time.perf_counter()
    if answer.status_code not in (200, 201, 204):
        raise RuntimeError(f"S3 refused the presigned POST: {answer.status_code} {answer.text}")
    key = grant["fields"]["key"]
    t_ready = _poll_until_processed(db, key)
    run = invoker.wait(key, READY_TIMEOUT_S)
    if run.error:
        raise RuntimeError(f"the resize function failed for {key}: {run.error!r}")
    return Sample(
        grant_ms=(t_post - t_grant) * 1000,
        s3_post_ms=(t0 - t_post) * 1000,
        ready_ms=(t_ready - t0) * 1000,
        handler_end_ms=(run.ended - t0) * 1000,
        queue_ms=(run.started - t0) * 1000,
        handler_ms=(run.ended - run.started) * 1000,
    )


def _grant(client: FlaskClient, size: int) -> dict[str, Any]:
    response = client.post(
        "/api/uploads", json={"filename": IMAGE.name, "content_type": "image/jpeg", "size": size}
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/uploads: {response.status_code} {response.get_data()!r}")
    grant: dict[str, Any] = response.get_json()
    return grant


def _poll_until_processed(db: Connection, key: str) -> float:
    """``perf_counter()`` when the row was first seen ``ready``; raise if it failed.

    Autocommit: each poll is its own statement and snapshot, so a commit is seen
    by the next poll.
    """
    query = select(Image.status, Image.error).where(Image.original_key == key)
    deadline = time.perf_counter() + READY_TIMEOUT_S
    while True:
        status, error = db.execute(query).one()
        now = time.perf_counter()
        if status == ImageStatus.READY:
            return now
        if status == ImageStatus.FAILED:
            raise RuntimeError(f"{key} ended failed: {error}")
        if now > deadline:
            raise TimeoutError(f"{key} not ready after {READY_TIMEOUT_S:g} s")
        time.sleep(POLL_INTERVAL_S)
