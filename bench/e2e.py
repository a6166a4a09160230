"""End to end on LocalStack + PostgreSQL: a presigned upload landing in S3 -> ``ready``.

One upload at a time: the latency of an idle stack, not its throughput. How each is
timed, and what the rows mean, is said once, in the report's words (:func:`render`).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from flask.testing import FlaskClient
from requests import Session
from sqlalchemy import Connection, NullPool, create_engine, select

from bench.common import IMAGES_DIR
from bench.report import latency, latency_table
from kitteh.formats import JPEG
from localcloud.harness import PrivateStack, RecordingInvoker, localstack_problem
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

#: (results key, what the row measures), in reading order; each upload's timings in ms.
INTERVALS = (
    ("ready_ms", "S3 answered the upload → `ready` seen by polling"),
    ("handler_end_ms", "S3 answered the upload → resize function returned (commit done)"),
    ("queue_ms", "… queue wait: S3 event → SQS → relay → resize function invoked"),
    ("handler_ms", "… resize function: get original, 3 sizes, put 3 variants, commit"),
    ("grant_ms", "for context: `POST /api/uploads` (presigned POST granted)"),
    ("s3_post_ms", "for context: the multipart POST of the file to S3"),
)


def run(database_url: str) -> dict[str, Any]:
    """Upload ``IMAGE`` WARMUP + UPLOADS times and summarise the counted uploads."""
    from app import create_app  # imported here: the module builds an app from the env

    problem = localstack_problem()
    if problem:
        raise RuntimeError(problem)
    data = IMAGE.read_bytes()
    poller = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with PrivateStack.running() as stack, poller.connect() as db, Session() as http:
        app = create_app()
        storage = app.extensions["kitteh.storage"]
        _ = storage.client, storage.public_client  # built now, not in the first timed request
        client = app.test_client()
        samples = []
        for i in range(WARMUP + UPLOADS):
            samples.append(_upload_once(client, http, db, stack.invoker, data))
            if (i + 1) % 10 == 0:
                print(f"  upload->ready: {i + 1}/{WARMUP + UPLOADS}", file=sys.stderr)
    poller.dispose()
    counted = samples[WARMUP:]
    return {
        "image": IMAGE.name,
        "bytes": len(data),
        "uploads": len(counted),
        "warmup_uploads": WARMUP,
        "poll_interval_ms": POLL_INTERVAL_S * 1000,
        "client": "Flask test client for the app; requests for the POST to LocalStack's S3",
        **{key: latency([s[key] for s in counted]) for key, _ in INTERVALS},
        "warmup_ready_ms": [round(s["ready_ms"], 1) for s in samples[:WARMUP]],
    }


def _upload_once(
    client: FlaskClient, http: Session, db: Connection, invoker: RecordingInvoker, data: bytes
) -> dict[str, float]:
    """One presigned upload, timed from S3's answer to the row reading ``ready``."""
    t_grant = time.perf_counter()
    body = {"filename": IMAGE.name, "content_type": JPEG.content_type, "size": len(data)}
    response = client.post("/api/uploads", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/uploads: {response.status_code} {response.get_data()!r}")
    grant = response.get_json()
    t_post = time.perf_counter()
    file = {"file": (IMAGE.name, data, JPEG.content_type)}
    answer = http.post(grant["url"], data=grant["fields"], files=file, timeout=60)
    t0 = time.perf_counter()
    if answer.status_code not in (200, 201, 204):
        raise RuntimeError(f"S3 refused the presigned POST: {answer.status_code} {answer.text}")
    key = grant["fields"]["key"]
    t_ready = _ready_at(db, key)
    run = invoker.wait(key, READY_TIMEOUT_S)
    if run.error:
        raise RuntimeError(f"the resize function failed for {key}: {run.error!r}")
    return {
        "grant_ms": (t_post - t_grant) * 1000,
        "s3_post_ms": (t0 - t_post) * 1000,
        "ready_ms": (t_ready - t0) * 1000,
        "handler_end_ms": (run.ended - t0) * 1000,
        "queue_ms": (run.started - t0) * 1000,
        "handler_ms": (run.ended - run.started) * 1000,
    }


def _ready_at(db: Connection, key: str) -> float:
    """``perf_counter()`` when the row is first seen ``ready`` (autocommit: each poll has a
    snapshot of its own, so it sees the last commit); raise if the image failed."""
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


def targets(part: dict[str, Any]) -> list[dict[str, Any]]:
    return []  # reported in milliseconds of an unpinned, shared stack: no target yet


def render(r: dict[str, Any]) -> list[str]:
    poll = r["poll_interval_ms"]
    return [
        "### Upload → ready",
        "",
        f"{r['uploads']} presigned uploads of {r['image']} ({r['bytes'] / 1e6:.1f} MB), one at "
        f"a time after {r['warmup_uploads']} warm-ups (ready in "
        f"{', '.join(f'{x:.0f}' for x in r['warmup_ready_ms'])} ms): `POST /api/uploads` "
        "through the Flask test client, a real multipart POST to LocalStack's presigned URL, "
        "S3's notification to SQS, `localcloud.relay.EventRelay` (a thread of the bench "
        "process) invoking `handlers.resize.handler` as Lambda would. The clock starts when "
        f"S3's answer to the POST is received. `ready` is detected by polling the row every "
        f"{poll:g} ms, so the first row includes 0–{poll:g} ms (about {poll / 2:g} ms on "
        "average) of polling delay; the second row is exact (the relay's call stamped in "
        "the same process, after the handler's commit), so the two differ by what polling "
        "adds. Medians of sub-intervals need not add up.",
        "",
        *latency_table(r, INTERVALS),
    ]
