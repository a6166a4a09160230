"""The gallery at scale: API pages and image pages with 10,000 ready images in PostgreSQL.

How and why is said once, in the report's words (:func:`render`). The request kinds
are interleaved so that a machine getting busier during the run weighs on all alike.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, event, insert, text

from bench.report import check, latency, latency_table, num, table
from kitteh import names
from kitteh.db import get_engine
from kitteh.formats import JPEG
from kitteh.gallery import encode_cursor
from models import Image, ImageStatus, Variant

ROWS = 10_000
PAGE = 50
#: The deep page is the one after this many rows: near the end of the gallery.
DEEP_AFTER = 9_900
REQUESTS = 200
WARMUP = 20
#: Image pages cycle over this many different images (a cache of one would flatter).
PAGE_NAMES = 200
#: Target: a page deep in 10,000 rows may take at most this times the first page.
DEEP_PAGE_RATIO = 1.5

#: Every seeded image is a ready 4032x3024 phone photo with these variants.
PHOTO = {
    "status": ImageStatus.READY.value,
    "error": None,
    "content_type": JPEG.content_type,
    "width": 4032,
    "height": 3024,
    "bytes": 3_200_000,
}
VARIANTS = (
    {"kind": "tiny", "width": 90, "height": 68, "bytes": 2_900},
    {"kind": "large", "width": 300, "height": 225, "bytes": 17_000},
    {"kind": "monstrous", "width": 600, "height": 450, "bytes": 52_000},
)
#: (results key, what the row measures) of the latency table.
REQUEST_KINDS = (
    ("first_page", f"`GET /api/images?limit={PAGE}` (first page)"),
    ("deep_page", f"`GET /api/images?limit={PAGE}&cursor=…` (after {DEEP_AFTER:,} rows)"),
    ("image_page", f"`GET /<Name>Kitty` (image page, {PAGE_NAMES} different images)"),
)


def run(database_url: str) -> dict[str, Any]:
    """Seed the empty database, then time first page, deep page and image page."""
    from app import create_app  # imported here: the module builds an app from the env

    engine = get_engine(database_url)  # the app's own engine: its SQL is captured for EXPLAIN
    started = time.perf_counter()
    image_names = seed(engine)
    seed_s = time.perf_counter() - started
    # Ids run 1..ROWS in upload order and pages list the newest first.
    first, cursor = f"/api/images?limit={PAGE}", encode_cursor(ROWS - DEEP_AFTER + 1)
    deep = f"{first}&cursor={cursor}"
    image_pages = [f"/{name}Kitty" for name in random.Random(0).sample(image_names, PAGE_NAMES)]
    paths = {"first_page": [first], "deep_page": [deep], "image_page": image_pages}
    app = create_app()
    client = app.test_client()
    storage = app.extensions["kitteh.storage"]
    started = time.perf_counter()
    for i in range(500):  # a list page makes 150 of these
        storage.variant_url(f"variants/bench{i:08d}/large.jpg")
    variant_url_us = (time.perf_counter() - started) / 500 * 1e6
    _check(client, paths)
    times = _measure(client, paths)
    pages = {
        "first_page": first,
        "deep_page": deep,
        "first_page_ready": f"{first}&status=ready",
        "deep_page_ready": f"{first}&status=ready&cursor={cursor}",
    }
    return {
        "rows": ROWS,
        "variants": ROWS * len(VARIANTS),
        "page_size": PAGE,
        "deep_page_after_rows": DEEP_AFTER,
        "requests": REQUESTS,
        "warmup_requests": WARMUP,
        "client": "Flask test client (in-process WSGI, as Zappa calls the app on Lambda)",
        "seed_seconds": round(seed_s, 2),
        "variant_url_us": round(variant_url_us, 1),
        **{kind: latency(samples) for kind, samples in times.items()},
        "deep_over_first": round(
            statistics.median(times["deep_page"]) / statistics.median(times["first_page"]), 3
        ),
        "explain": {kind: explain(client, engine, url) for kind, url in pages.items()},
    }


def seed(engine: Engine) -> list[str]:
    """Insert ``ROWS`` ready images (names drawn as the app draws them) with three variants
    each, under explicit ids so that no round trip is needed; ``VACUUM ANALYZE``
    afterwards, as autovacuum would have run, so that the planner sees real statistics."""
    by_key: dict[str, str] = {}
    while len(by_key) < ROWS:
        name = names.generate_name()
        by_key.setdefault(names.name_key(name), name)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    images, variants = [], []
    for i, (key, name) in enumerate(by_key.items(), 1):
        created = start + timedelta(minutes=i)
        images.append(
            {
                "id": i,
                "name": name,
                "name_key": key,
                "original_key": f"originals/bench{i:08d}",
                "original_filename": f"cat-{i}.jpg",
                "created_at": created,
                "updated_at": created,
                **PHOTO,
            }
        )
        for v in VARIANTS:
            object_key = f"variants/bench{i:08d}/{v['kind']}.jpg"
            variants.append(
                {"image_id": i, "key": object_key, "content_type": JPEG.content_type, **v}
            )
    with engine.begin() as connection:
        connection.execute(insert(Image), images)
        connection.execute(insert(Variant), variants)
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('images', 'id'), :n)"), {"n": ROWS}
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE images, variants")
        )
    return list(by_key.values())


def _check(client: FlaskClient, paths: dict[str, list[str]]) -> None:
    """Each kind answers a full page, so the bench never times an error or an empty page."""
    for kind in ("first_page", "deep_page"):
        items = _get(client, paths[kind][0]).get_json()["items"]
        if len(items) != PAGE or any(len(i["variants"]) != len(VARIANTS) for i in items):
            raise RuntimeError(f"{kind}: {len(items)} items, or one lacks its variants")
    page = _get(client, paths["image_page"][0]).get_data(as_text=True)
    if page.count("data-variant=") != len(VARIANTS):
        raise RuntimeError("image page: not three variants")


def _measure(client: FlaskClient, paths: dict[str, list[str]]) -> dict[str, list[float]]:
    """Milliseconds per request of each kind, interleaved, after a warm-up."""
    times: dict[str, list[float]] = {kind: [] for kind in paths}
    for i in range(WARMUP + REQUESTS):
        for kind, urls in paths.items():
            started = time.perf_counter()
            _get(client, urls[i % len(urls)])
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


#: SQLAlchemy's selectin load expands one placeholder per id; shortened for reading.
_IN_LIST = re.compile(r"IN \((%\(\w+\)s::INTEGER)(?:, %\(\w+\)s::INTEGER)+\)")
_INDEX_USE = re.compile(
    r"(?:Index(?: Only)? Scan(?: Backward)?|Bitmap Index Scan) (?:using|on) (\w+)"
)


def explain(client: FlaskClient, engine: Engine, url: str) -> dict[str, Any]:
    """``EXPLAIN ANALYZE`` of the SELECTs the app ran for ``url``, captured from the engine
    while it served the page: the app's real queries and parameters, not a rewrite."""
    selects: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        _get(client, url)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    queries = {}
    for statement, parameters in selects:
        with engine.connect() as connection:
            sql = f"EXPLAIN (ANALYZE, BUFFERS) {statement}"
            plan = list(connection.exec_driver_sql(sql, parameters).scalars())
        execution = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan))
        queries["images" if "FROM images" in statement else "variants"] = {
            "sql": _IN_LIST.sub(r"IN (\1, ...)", " ".join(statement.split())),
            "indexes": sorted(set(_INDEX_USE.findall("\n".join(plan)))),
            "execution_ms": float(execution[1]) if execution else None,
            "plan": plan,
        }
    return {"url": url, "queries": queries}


def targets(part: dict[str, Any]) -> list[dict[str, Any]]:
    """Keyset pagination: the page after 9,900 rows costs what the first does."""
    p50 = {kind: part.get(kind, {}).get("p50_ms") for kind in ("first_page", "deep_page")}
    return [
        check(
            f"gallery 10k: deep page p50 <= {DEEP_PAGE_RATIO:g}x first page p50",
            part.get("deep_over_first"),
            DEEP_PAGE_RATIO,
            "x",
            digits=2,
            context=f"; {num(p50['deep_page'])} vs {num(p50['first_page'])} ms",
            missing=part.get("error", "not measured"),
        )
    ]


def render(r: dict[str, Any]) -> list[str]:
    explain = r["explain"]
    rows = [
        [f"`{page['url']}`", *(_index_use(page["queries"].get(t)) for t in ("images", "variants"))]
        for page in explain.values()
    ]
    used = {i for page in explain.values() for q in page["queries"].values() for i in q["indexes"]}
    lines = [
        "### Gallery with 10,000 images",
        "",
        f"{r['rows']:,} ready images with {r['variants']:,} variants bulk-inserted into a "
        f"fresh PostgreSQL database ({r['seed_seconds']:.1f} s, then `VACUUM ANALYZE`); no S3 "
        "objects, but every URL comes from the real `Storage.variant_url` (presigned GETs "
        f"signed locally, {r['variant_url_us']:.0f} µs each, 150 per list page, and reused "
        "for half their lifetime, as in a warm container: after the warm-up rounds the two "
        "list pages are served with their URLs already signed; 180 of the 200 image pages "
        f"sign their three). {r['requests']} requests of each kind, interleaved, after "
        f"{r['warmup_requests']} warm-up rounds, sequential. Measured through the Flask test "
        "client: on Lambda Zappa calls the WSGI app directly, so the in-process WSGI call "
        "times Kitteh's own work without a development server's socket and thread overhead "
        "that production never pays.",
        "",
        *latency_table(r, REQUEST_KINDS),
        f"A list page whose URLs are not signed yet pays about "
        f"{r['variant_url_us'] * 150 / 1000:.0f} ms more (150 URLs); the SQL is well under "
        "a millisecond (plans below).",
        "",
        "`EXPLAIN (ANALYZE, BUFFERS)` of the SQL the app ran for each page (captured from the "
        "engine while serving it; full plans in `results.json`):",
        "",
        *table(
            ["page", "images: index, execution ms", "variants: index, execution ms"], rows, "lll"
        ),
    ]
    if "ix_images_status_id" not in used:
        lines += [
            "Every row is `ready`, so the planner serves the `status=ready` pages from "
            "`pk_images` too (a backward scan whose status filter drops nothing, stopping after "
            "51 rows); `ix_images_status_id` (status, id) pays only when the status asked for "
            "is rare.",
            "",
        ]
    for kind in ("first_page", "deep_page"):
        lines += [f"{kind} (images):", "", "```", *explain[kind]["queries"]["images"]["plan"]]
        lines += ["```", ""]
    return lines


def _index_use(query: dict[str, Any] | None) -> str:
    if query is None:
        return "not run"
    return f"{', '.join(query['indexes']) or 'no index'}, {query['execution_ms']}"
