"""The gallery at scale: API pages and image pages with 10,000 ready images in PostgreSQL.

Rows are bulk-inserted with SQLAlchemy core (no S3 objects: every URL a page shows
is presigned locally, by the app's real ``Storage.variant_url``, without a request
to S3). Requests go through the Flask test client: on Lambda, Zappa calls the WSGI
app directly with no HTTP server in front, so the test client's in-process WSGI call
times what Kitteh's code does per request, without a development server's socket
and thread overhead that production never pays.

The three request kinds are interleaved (first page, deep page, image page, first
page, ...) so that a machine getting busier during the run weighs on all alike.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, event, insert, text

from bench.latency import summarise
from kitteh import names
from kitteh.config import Settings
from kitteh.db import get_engine
from kitteh.images import encode_cursor
from kitteh.migrate import upgrade
from kitteh.storage import Storage
from localcloud.postgres import throwaway_database
from models import Image, ImageStatus, Variant

ROWS = 10_000
PAGE = 50
#: The deep page is the one after this many rows: near the end of the gallery.
DEEP_AFTER = 9_900
REQUESTS = 200
WARMUP = 20
#: Image pages cycle over this many different images (a cache of one would flatter).
PAGE_NAMES = 200

#: (kind, width, height, bytes) of the variants of a 4032x3024 phone photo.
VARIANTS = (
    ("tiny", 90, 68, 2_900),
    ("large", 300, 225, 17_000),
    ("monstrous", 600, 450, 52_000),
)


def run(settings: Settings) -> dict[str, Any]:
    """Seed a fresh database, then time first page, deep page and image page."""
    from app import create_app  # imported here: the module builds an app from the env

    with throwaway_database("kitteh_bench_gallery") as url:
        upgrade(url)
        engine = get_engine(url)  # the app's own engine: its SQL is captured for EXPLAIN
        started = time.perf_counter()
        image_names = seed(engine, ROWS)
        seed_s = time.perf_counter() - started
        app = create_app({"KITTEH_SETTINGS": replace(settings, database_url=url)})
        client = app.test_client()
        presign_us = _presign_cost_us(app.extensions["kitteh.storage"])
        paths = _paths(engine, image_names)
        _check(client, paths)
        times = _measure(client, paths)
        plans = explain_pages(client, engine, paths)
        engine.dispose()
    first, deep = times["first_page"], times["deep_page"]
    return {
        "rows": ROWS,
        "variants": ROWS * len(VARIANTS),
        "page_size": PAGE,
        "deep_page_after_rows": DEEP_AFTER,
        "requests": REQUESTS,
        "warmup_requests": WARMUP,
        "client": "Flask test client (in-process WSGI, as Zappa calls the app on Lambda)",
        "seed_seconds": round(seed_s, 2),
        "variant_url_us": round(presign_us, 1),
        **{kind: summarise(samples) for kind, samples in times.items()},
        "deep_over_first": round(statistics.median(deep) / statistics.median(first), 3),
        "explain": plans,
    }


# Seeding ---------------------------------------------------------------------


def seed(engine: Engine, rows: int) -> list[str]:
    """Insert ``rows`` ready images with three variants each; return their names.

    Explicit ids in upload order (then the sequence moved past them), so that the
    variants can name their image without a round trip. ``VACUUM ANALYZE`` afterwards,
    as autovacuum would have run on a table that grew this big, so the planner sees
    real statistics.
    """
    image_names = _unique_names(rows)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    images = [_image_row(i, name, start) for i, name in enumerate(image_names, 1)]
    variants = [
        _variant_row(i, kind, w, h, b) for i in range(1, rows + 1) for kind, w, h, b in VARIANTS
    ]
    with engine.begin() as connection:
        connection.execute(insert(Image), images)
        connection.execute(insert(Variant), variants)
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('images', 'id'), :n)"), {"n": rows}
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE images, variants")
        )
    return image_names


def _unique_names(count: int) -> list[str]:
    """``count`` names drawn as the app draws them, unique once folded."""
    by_key: dict[str, str] = {}
    while len(by_key) < count:
        name = names.generate_name()
        by_key.setdefault(names.name_key(name), name)
    return list(by_key.values())


def _image_row(image_id: int, name: str, start: datetime) -> dict[str, Any]:
    created = start + timedelta(minutes=image_id)
    return {
        "id": image_id,
        "name": name,
        "name_key": names.name_key(name),
        "status": ImageStatus.READY.value,
        "error": None,
        "original_key": f"originals/bench{image_id:08d}",
        "original_filename": f"cat-{image_id}.jpg",
        "content_type": "image/jpeg",
        "width": 4032,
        "height": 3024,
        "bytes": 3_200_000,
        "created_at": created,
        "updated_at": created,
    }


def _variant_row(image_id: int, kind: str, width: int, height: int, size: int) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "kind": kind,
        "key": f"variants/bench{image_id:08d}/{kind}.jpg",
        "width": width,
        "height": height,
        "bytes": size,
        "content_type": "image/jpeg",
    }


# Measuring -------------------------------------------------------------------


def _paths(engine: Engine, image_names: list[str]) -> dict[str, list[str]]:
    """The URLs each request kind cycles through."""
    with engine.connect() as connection:
        last_id = connection.execute(
            text("SELECT id FROM images ORDER BY id DESC OFFSET :n LIMIT 1"), {"n": DEEP_AFTER - 1}
        ).scalar_one()
    pages = random.Random(0).sample(image_names, PAGE_NAMES)
    return {
        "first_page": [f"/api/images?limit={PAGE}"],
        "deep_page": [f"/api/images?limit={PAGE}&cursor={encode_cursor(last_id)}"],
        "image_page": [f"/{name}Kitty" for name in pages],
    }


def _presign_cost_us(storage: Storage, calls: int = 500) -> float:
    """Mean microseconds of one ``Storage.variant_url``: a list page makes 150 of them."""
    started = time.perf_counter()
    for i in range(calls):
        storage.variant_url(f"variants/bench{i:08d}/large.jpg")
    return (time.perf_counter() - started) / calls * 1e6


def _check(client: FlaskClient, paths: dict[str, list[str]]) -> None:
    """Each kind answers what it should, so the bench never times an error page."""
    for kind in ("first_page", "deep_page"):
        body = _get(client, paths[kind][0]).get_json()
        if len(body["items"]) != PAGE or not body["next"]:
            raise RuntimeError(f"{kind}: {len(body['items'])} items, next={body['next']!r}")
        if any(len(item["variants"]) != len(VARIANTS) for item in body["items"]):
            raise RuntimeError(f"{kind}: an item lacks its variants")
    page = _get(client, paths["image_page"][0]).get_data(as_text=True)
    if page.count("data-variant=") != len(VARIANTS):
        raise RuntimeError("image page: not three variants")


def _measure(client: FlaskClient, paths: dict[str, list[str]]) -> dict[str, list[float]]:
    """Milliseconds per request of each kind, interleaved, after a warm-up."""
    times: dict[str, list[float]] = {kind: [] for kind in paths}
    for i in range(WARMUP + REQUESTS):
        for kind, urls in paths.items():
            url = urls[i % len(urls)]
            started = time.perf_counter()
            _get(client, url)
            if i >= WARMUP:
                times[kind].append((time.perf_counter() - started) * 1000)
        if (i + 1) % 100 == 0:
            print(f"  gallery: {i + 1}/{WARMUP + REQUESTS} rounds", file=sys.stderr)
    return times


def _get(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.get_data()[:200]!r}")
    return response


# EXPLAIN -----------------------------------------------------------------------

#: SQLAlchemy's selectin load expands one placeholder per id; shortened for reading.
_IN_LIST = re.compile(r"IN \((%\(\w+\)s::INTEGER)(?:, %\(\w+\)s::INTEGER)+\)")
_INDEX_USE = re.compile(
    r"(?:Index(?: Only)? Scan(?: Backward)?|Bitmap Index Scan) (?:using|on) (\w+)"
)


def explain_pages(
    client: FlaskClient, engine: Engine, paths: dict[str, list[str]]
) -> dict[str, Any]:
    """``EXPLAIN ANALYZE`` of the SQL the app ran for each page, as it ran it.

    The statements are captured from the engine while the app serves the page, so
    the plans are of the app's real queries (and parameters), not of a rewrite.
    ``status=ready`` pages are what the HTML gallery asks for; they are the ones
    that use ``ix_images_status_id``.
    """
    cursor = paths["deep_page"][0].split("cursor=")[1]
    pages = {
        "first_page": paths["first_page"][0],
        "deep_page": paths["deep_page"][0],
        "first_page_ready": f"/api/images?limit={PAGE}&status=ready",
        "deep_page_ready": f"/api/images?limit={PAGE}&status=ready&cursor={cursor}",
    }
    return {kind: _explain_url(client, engine, url) for kind, url in pages.items()}


def _explain_url(client: FlaskClient, engine: Engine, url: str) -> dict[str, Any]:
    with _captured_statements(engine) as statements:
        _get(client, url)
    plans = {}
    for statement, parameters in statements:
        table = "images" if "FROM images" in statement else "variants"
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
            ).scalars()
            plan = list(rows)
        plans[table] = {
            "sql": _IN_LIST.sub(r"IN (\1, ...)", " ".join(statement.split())),
            "indexes": sorted(set(_INDEX_USE.findall("\n".join(plan)))),
            "execution_ms": _execution_ms(plan),
            "plan": plan,
        }
    return {"url": url, "queries": plans}


def _execution_ms(plan: list[str]) -> float | None:
    found = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan))
    return float(found[1]) if found else None


@contextmanager
def _captured_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT the engine sends while the block runs, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
