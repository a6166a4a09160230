"""Load on LocalStack + PostgreSQL: 200 uploads from 8 clients, then again with S3 reset twice.

The app is served over HTTP (Werkzeug's threaded server, in this process) and 8
client threads upload the real photos in ``../shared/photos`` through
``POST /api/images``, as scripts and the no-JavaScript form do. S3 — for the app and
for the resize function alike — sits behind :class:`localcloud.faults.FaultyProxy`;
SQS and PostgreSQL are reached directly. The relay runs the resize function as
Lambda would, :data:`localcloud.relay.DEFAULT_CONCURRENCY` deliveries at a time.

A client retries an upload that was answered 503 (or not answered) after the
``Retry-After`` it was given, up to :data:`MAX_ATTEMPTS` times, as a well-behaved
script would; each attempt is counted. Once all clients are done and every event
has been through the relay, the final state is read from the database and the
bucket and compared with what each client was told:

ready / failed
    uploads answered 201 whose image ended ready / failed;
lost
    uploads answered 201 whose image is missing or never settled;
duplicated
    uploads (one per client intent, told apart by file name) with more than one image;
ghost
    images no client was given a 201 for;
mismatched
    answers that disagree with the final state (a 201 without a ready image, or an
    upload given up on that has an image anyway); orphan objects are originals left
    in the bucket without an image.

Phases, each on a fresh bucket and queue and the part's database emptied: ``no_faults``;
``s3_resets``: S3 reset (every connection refused with a TCP RST) for 2 s after a third
and after two thirds of the uploads were answered; ``serial_relay``: no faults, the
relay delivering one event at a time, as it did before it ran them side by side.

A part of :mod:`bench.stack` (``run``, ``targets``, ``render``); ``python -m bench.load``
runs it alone and prints its figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import NullPool, create_engine, delete, select

from bench.common import ROOT
from bench.report import check, latency, table
from kitteh.db import get_engine
from kitteh.migrate import upgrade
from localcloud.faults import FaultyProxy
from localcloud.harness import (
    CANARY_PREFIX,
    LOCALSTACK_URL,
    PrivateStack,
    environment,
    localstack_problem,
    stack_environment,
    wait_for,
)
from localcloud.postgres import throwaway_database
from localcloud.relay import DEFAULT_CONCURRENCY
from localcloud.run import serve_quietly
from models import Image, ImageStatus

PHOTOS_DIR = ROOT.parent / "shared" / "photos"
UPLOADS = 200
CLIENTS = 8
#: Attempts per upload before a client gives up on it.
MAX_ATTEMPTS = 8
#: Each reset lasts this long, after a third and after two thirds of the uploads.
RESET_SECONDS = 2.0
#: A failed delivery is retried when its message is visible again: 5 s here (the
#: bench's queue), so that faults settle within the run rather than in 2 minutes.
VISIBILITY_TIMEOUT_S = 5
SETTLE_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.02

PHASES = ("no_faults", "s3_resets", "serial_relay")

#: Time from the last upload answered to the last image ready, relay running events
#: side by side over one at a time. Two cores: at best 0.5; a quarter off at least.
RELAY_SETTLE_RATIO = 0.75
#: The counts that must be zero, without faults and with S3 reset twice.
ZEROS = {
    "no_faults": ("lost", "duplicated", "ghost", "answers_5xx", "mismatched", "orphan_objects"),
    "s3_resets": ("lost", "duplicated", "ghost", "mismatched", "orphan_objects"),
}


@dataclass
class Attempt:
    status: int | None  # None: no answer (connection error, timeout)
    seconds: float


@dataclass
class Upload:
    """One client's intent to upload one photo, and what it was told."""

    filename: str
    attempts: list[Attempt] = field(default_factory=list)
    name: str | None = None
    answered_at: float | None = None


def photos() -> list[tuple[str, bytes]]:
    found = sorted(PHOTOS_DIR.glob("*.jpg"))
    if not found:
        raise RuntimeError(f"no photos in {PHOTOS_DIR}")
    return [(path.name, path.read_bytes()) for path in found]


def run(database_url: str, phases: tuple[str, ...] = PHASES) -> dict[str, Any]:
    """Every phase in its own bucket and queue, on ``database_url`` emptied before each."""
    problem = localstack_problem()
    if problem:
        raise RuntimeError(problem)
    inputs = photos()
    results: dict[str, Any] = {
        "uploads": UPLOADS,
        "clients": CLIENTS,
        "photos": [name for name, _ in inputs],
        "photo_bytes": sum(len(data) for _, data in inputs),
        "reset_seconds": RESET_SECONDS,
        "visibility_timeout_s": VISIBILITY_TIMEOUT_S,
        "relay_concurrency": DEFAULT_CONCURRENCY,
        "phases": {},
    }
    for phase in phases:
        print(f"  load: {phase}...", file=sys.stderr)
        _empty(database_url)
        results["phases"][phase] = _phase(phase, inputs, database_url)
    return results


def _empty(database_url: str) -> None:
    """Remove the images of an earlier phase (their variants go with them, by cascade)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as db:
            db.execute(delete(Image))
    finally:
        engine.dispose()


def _phase(phase: str, inputs: list[tuple[str, bytes]], database_url: str) -> dict[str, Any]:
    run_name = f"kitteh-load-{uuid.uuid4().hex[:8]}"
    concurrency = 1 if phase == "serial_relay" else DEFAULT_CONCURRENCY
    host, port = LOCALSTACK_URL.removeprefix("http://").split(":")
    with FaultyProxy(host, int(port), name="s3") as proxy:
        env = stack_environment(run_name) | {
            "DATABASE_URL": database_url,
            # S3 through the proxy; SQS (the general endpoint) directly
            "AWS_ENDPOINT_URL_S3": f"http://{proxy.address}",
            "KITTEH_RELAY_CONCURRENCY": str(concurrency),
            "LOG_LEVEL": "ERROR",
        }
        with environment(env):
            from app import create_app  # here: the module builds an app from the environment

            app = create_app()
            with PrivateStack.running() as stack, serve_quietly(app, "load-app") as base_url:
                stack.set_visibility_timeout(VISIBILITY_TIMEOUT_S)
                with _ReadyWatch(database_url) as watch:
                    started = time.perf_counter()
                    uploads = _upload_all(base_url, inputs, proxy if phase == "s3_resets" else None)
                    answered = time.perf_counter()
                    given = {u.name for u in uploads if u.name}
                    wait_for(
                        lambda: watch.settled() >= given,
                        timeout=SETTLE_TIMEOUT_S,
                        what=lambda: f"{len(given - watch.settled())} uploads to settle",
                    )
                    settled_at = max(watch.first_seen.get(n, answered) for n in given or {""})
                    stack.settle(timeout=30)  # every event sent so far has been delivered
                    stack.wait_until_queues_empty(timeout=SETTLE_TIMEOUT_S)
                    seen = dict(watch.first_seen)
                rows = _rows(database_url)
                objects = [
                    key
                    for key in _keys(stack, stack.settings.originals_prefix)
                    if not key.startswith(CANARY_PREFIX)
                ]
            get_engine(database_url).dispose()
    return _account(uploads, rows, objects, seen, started, answered, settled_at)


def _upload_all(
    base_url: str, inputs: list[tuple[str, bytes]], resets: FaultyProxy | None
) -> list[Upload]:
    uploads = [Upload(f"load-{i:03d}-{inputs[i % len(inputs)][0]}") for i in range(UPLOADS)]
    work = iter(enumerate(uploads))
    progress = threading.Condition()
    done = 0

    def client() -> None:
        nonlocal done
        with requests.Session() as http:
            while True:
                with progress:
                    item = next(work, None)
                if item is None:
                    return
                index, upload = item
                _upload(http, base_url, upload, inputs[index % len(inputs)][1])
                with progress:
                    done += 1
                    progress.notify_all()

    threads = [threading.Thread(target=client, name=f"client-{n}") for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    if resets is not None:
        for threshold in (UPLOADS // 3, 2 * UPLOADS // 3):
            with progress:
                progress.wait_for(lambda at=threshold: done >= at)  # type: ignore[misc]
            with resets.fault("reset"):
                time.sleep(RESET_SECONDS)
    for thread in threads:
        thread.join()
    return uploads


def _upload(http: requests.Session, base_url: str, upload: Upload, data: bytes) -> None:
    for _ in range(MAX_ATTEMPTS):
        started = time.perf_counter()
        try:
            answer = http.post(
                f"{base_url}/api/images", files={"file": (upload.filename, data)}, timeout=30
            )
        except requests.RequestException:
            upload.attempts.append(Attempt(None, time.perf_counter() - started))
            time.sleep(1)
            continue
        upload.attempts.append(Attempt(answer.status_code, time.perf_counter() - started))
        if answer.status_code == 201:
            upload.name = answer.json()["name"]
            upload.answered_at = time.perf_counter()
            return
        if answer.status_code != 503:
            return  # not worth retrying: the app refused the upload itself
        time.sleep(float(answer.headers.get("Retry-After", "1")))


class _ReadyWatch:
    """Polls the database and stamps when each image was first seen settled."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="ready-watch", daemon=True)

    def __enter__(self) -> _ReadyWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.engine.dispose()

    def settled(self) -> set[str]:
        return set(self.first_seen)

    def _poll(self) -> None:
        query = select(Image.name).where(Image.status != ImageStatus.PENDING)
        with self.engine.connect() as db:
            while not self._stop.is_set():
                now = time.perf_counter()
                for (name,) in db.execute(query):
                    self.first_seen.setdefault(name, now)
                time.sleep(POLL_INTERVAL_S)


def _rows(database_url: str) -> list[tuple[str, str, str | None, str]]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as db:
            query = select(Image.name, Image.status, Image.original_filename, Image.original_key)
            return [(str(n), str(s), f, str(k)) for n, s, f, k in db.execute(query)]
    finally:
        engine.dispose()


def _keys(stack: PrivateStack, prefix: str) -> list[str]:
    keys = []
    for page in stack.s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.settings.bucket, Prefix=prefix
    ):
        keys += [item["Key"] for item in page.get("Contents", []) if "Key" in item]
    return keys


def _account(
    uploads: list[Upload],
    rows: list[tuple[str, str, str | None, str]],
    objects: list[str],
    seen: dict[str, float],
    started: float,
    answered: float,
    settled_at: float,
) -> dict[str, Any]:
    by_name = {name: (status, filename, key) for name, status, filename, key in rows}
    given = {u.name: u for u in uploads if u.name}
    per_file: dict[str | None, int] = {}
    for _name, _status, filename, _key in rows:
        per_file[filename] = per_file.get(filename, 0) + 1
    ready = sum(1 for n in given if by_name.get(n, ("",))[0] == ImageStatus.READY)
    failed = sum(1 for n in given if by_name.get(n, ("",))[0] == ImageStatus.FAILED)
    lost = sum(1 for n in given if by_name.get(n, ("",))[0] not in ("ready", "failed"))
    gave_up = [u for u in uploads if u.name is None]
    mismatched = (len(given) - ready) + sum(1 for u in gave_up if per_file.get(u.filename))
    attempts = [a for u in uploads for a in u.attempts]
    to_ready = [
        (seen[name] - upload.answered_at) * 1000
        for name, upload in given.items()
        if name in seen and upload.answered_at is not None
    ]
    row_keys = {key for _n, _s, _f, key in rows}
    return {
        "answered_201": len(given),
        "gave_up": len(gave_up),
        "ready": ready,
        "failed": failed,
        "lost": lost,
        "duplicated": sum(1 for count in per_file.values() if count > 1),
        "ghost": sum(1 for name in by_name if name not in given),
        "mismatched": mismatched,
        "orphan_objects": sum(1 for key in objects if key not in row_keys),
        "attempts": len(attempts),
        "answers_5xx": sum(1 for a in attempts if a.status is not None and a.status >= 500),
        "no_answer": sum(1 for a in attempts if a.status is None),
        "retried_uploads": sum(1 for u in uploads if len(u.attempts) > 1),
        "uploads_per_s": round(len(given) / (answered - started), 1),
        "upload_seconds": round(answered - started, 2),
        "settle_after_last_answer_s": round(max(0.0, settled_at - answered), 2),
        "answer_ms": _latency([a.seconds * 1000 for a in attempts]),
        "upload_to_ready_ms": _latency(to_ready),
    }


def _latency(samples_ms: list[float]) -> dict[str, Any]:
    if len(samples_ms) < 2:  # too few for a p95: a phase where (nearly) nothing got through
        return {"n": len(samples_ms), "p50_ms": None, "p95_ms": None}
    return latency(samples_ms)


def targets(part: dict[str, Any]) -> list[dict[str, Any]]:
    """Nothing lost, duplicated or ghostly, every answer true; the relay's concurrency pays."""
    missing = part.get("error", "not measured")
    phases = part.get("phases", {})
    checks = []
    for phase, counts in ZEROS.items():
        figures = phases.get(phase)
        total, context = None, ""
        if figures is not None:
            found = {count: figures[count] for count in counts if figures[count]}
            total = sum(found.values())
            context = (
                f"; {', '.join(f'{k} {v}' for k, v in found.items()) or 'all zero'}"
                f"; {figures['answered_201']} of {part['uploads']} answered 201"
                f", {figures['answers_5xx']} 5xx answers retried"
            )
        name = f"load {phase}: 0 {' / '.join(counts)}"
        checks.append(check(name, total, 0, "", digits=0, context=context, missing=missing))
    parallel, serial = phases.get("no_faults"), phases.get("serial_relay")
    ratio, context = None, ""
    if parallel is not None and serial is not None and serial["settle_after_last_answer_s"]:
        side_by_side = parallel["settle_after_last_answer_s"]
        one_at_a_time = serial["settle_after_last_answer_s"]
        ratio = side_by_side / one_at_a_time
        context = f"; {side_by_side:.1f} vs {one_at_a_time:.1f} s"
    name = f"load: relay side by side settles in <= {RELAY_SETTLE_RATIO:g}x the serial relay's time"
    checks.append(
        check(name, ratio, RELAY_SETTLE_RATIO, "x", digits=2, context=context, missing=missing)
    )
    return checks


#: (results key, what the row counts) of the load table, in reading order.
ROWS = (
    ("answered_201", "uploads answered 201 (of the uploads started)"),
    ("ready", "… whose image ended `ready`"),
    ("failed", "… whose image ended `failed`"),
    ("lost", "lost: answered 201, image missing or never settled"),
    ("duplicated", "duplicated: one upload, more than one image"),
    ("ghost", "ghost: an image no client was given"),
    ("mismatched", "answers that disagree with the final state"),
    ("orphan_objects", "originals left in the bucket without an image"),
    ("gave_up", "uploads given up on, out of attempts"),
    ("attempts", "requests made"),
    ("answers_5xx", "5xx answers (each retried after its Retry-After)"),
    ("no_answer", "requests with no answer at all"),
    ("uploads_per_s", "uploads answered 201 per second"),
    ("settle_after_last_answer_s", "seconds from the last answer to the last image ready"),
)
PHASE_LABELS = (
    ("no_faults", "no faults"),
    ("s3_resets", "S3 reset 2 × 2 s"),
    ("serial_relay", "no faults, relay one at a time"),
)


def render(r: dict[str, Any]) -> list[str]:
    phases = [(key, label) for key, label in PHASE_LABELS if key in r["phases"]]
    rows = [[label, *(r["phases"][phase][key] for phase, _ in phases)] for key, label in ROWS]
    for key, label in (("upload_to_ready_ms", "upload → ready"), ("answer_ms", "one request")):
        for stat in ("p50_ms", "p95_ms"):
            cells = (r["phases"][phase][key][stat] for phase, _ in phases)
            rows.append([f"{label} {stat.removesuffix('_ms')} ms", *cells])
    return [
        f"### Load: {r['uploads']} uploads from {r['clients']} clients",
        "",
        f"{r['uploads']} uploads of the {len(r['photos'])} real photos in `../shared/photos` "
        f"({r['photo_bytes'] / len(r['photos']) / 1e3:.0f} kB on average) from {r['clients']} "
        "client threads through `POST /api/images`, the app on Werkzeug's threaded server in "
        "the bench process; S3 (for the app and the resize function) behind "
        "`localcloud.faults.FaultyProxy`, SQS and PostgreSQL direct; the relay delivering "
        f"{r['relay_concurrency']} events at a time (one at a time in the last column). A "
        "client retries a 503 after its `Retry-After`. In the fault phase every S3 "
        f"connection is reset for {r['reset_seconds']:g} s after a third and after two thirds "
        f"of the uploads were answered; the bench's queue makes a failed delivery visible "
        f"again after {r['visibility_timeout_s']} s. Each phase has a fresh bucket and queue "
        "and starts on an empty database; the final state is read from them once every event "
        "went through the relay.",
        "",
        *table(["", *(label for _, label in phases)], rows, "l" + "r" * len(phases)),
        "Upload → ready is long because the 200 uploads arrive faster than two cores resize "
        "them: it is mostly queueing, which is why the relay's concurrency shows in the time "
        "from the last answer to the last image ready.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.load``: run the phases and print the figures (no RESULTS.md)."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    args = parser.parse_args(argv)
    with throwaway_database("kitteh_bench_load") as database_url:
        upgrade(database_url)
        figures = run(database_url, tuple(args.phases))
        get_engine(database_url).dispose()
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
