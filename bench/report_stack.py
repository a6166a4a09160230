"""The stack benchmarks' part of ``RESULTS.md``: end to end and gallery at scale."""

from __future__ import annotations

from typing import Any

from bench.targets import DEEP_PAGE_RATIO

#: (results key, what the row measures) of the end-to-end table, in reading order.
E2E_ROWS = (
    ("ready_ms", "S3 answered the upload → `ready` seen by polling"),
    ("handler_end_ms", "S3 answered the upload → resize function returned (commit done)"),
    ("queue_ms", "… queue wait: S3 event → SQS → relay → resize function invoked"),
    ("handler_ms", "… resize function: get original, 3 sizes, put 3 variants, commit"),
    ("grant_ms", "for context: `POST /api/uploads` (presigned POST granted)"),
    ("s3_post_ms", "for context: the multipart POST of the file to S3"),
)
GALLERY_ROWS = (
    ("first_page", "`GET /api/images?limit=50` (first page)"),
    ("deep_page", "`GET /api/images?limit=50&cursor=…` (after 9,900 rows)"),
    ("image_page", "`GET /<Name>Kitty` (image page, 200 different images)"),
)
HEADER = ["| | p50 ms | p95 ms | min ms | max ms |", "| --- | ---: | ---: | ---: | ---: |"]


def render(stack: dict[str, Any]) -> list[str]:
    """Markdown lines of the stack section."""
    lines = ["## Stack benchmarks (LocalStack + PostgreSQL)", ""]
    if "skipped" in stack:
        return [*lines, f"Skipped: {stack['skipped']}.", ""]
    lines += [
        (
            "Milliseconds, not ratios, and not pinned: LocalStack (host mode), PostgreSQL and "
            "the bench process share every core, so a busy machine shows here first. The part "
            f"took {stack.get('seconds', 0):.0f} s; `bench/run.sh --no-stack` skips it."
        ),
        "",
    ]
    for key, render_part in (
        ("upload_to_ready", _e2e),
        ("gallery_10k", _gallery),
        ("load", _load),
    ):
        part = stack.get(key) or {"error": "not run"}
        lines += (
            [f"- {key}: **error** {part['error']}", ""] if "error" in part else render_part(part)
        )
    return lines


def _row(label: str, s: dict[str, Any]) -> str:
    return f"| {label} | {s['p50_ms']} | {s['p95_ms']} | {s['min_ms']} | {s['max_ms']} |"


def _e2e(r: dict[str, Any]) -> list[str]:
    poll = r["poll_interval_ms"]
    return [
        "### Upload → ready",
        "",
        (
            f"{r['uploads']} presigned uploads of {r['image']} ({r['bytes'] / 1e6:.1f} MB), one at "
            f"a time after {r['warmup_uploads']} warm-ups (ready in "
            f"{', '.join(f'{x:.0f}' for x in r['warmup_ready_ms'])} ms): `POST /api/uploads` "
            "through the Flask test client, a real multipart POST to LocalStack's presigned URL, "
            "S3's notification to SQS, `kitteh.relay.EventRelay` (a thread of the bench process) "
            "invoking `handlers.resize.handler` as Lambda would. The clock starts when S3's "
            f"answer to the POST is received. `ready` is detected by polling the row every "
            f"{poll:g} ms, so the first row includes 0–{poll:g} ms (about {poll / 2:g} ms on "
            "average) of polling delay; the second row is exact (the relay's call stamped in "
            "the same process, after the handler's commit), so the two differ by what polling "
            "adds. Medians of sub-intervals need not add up."
        ),
        "",
        *HEADER,
        *(_row(label, r[key]) for key, label in E2E_ROWS),
        "",
    ]


def _gallery(r: dict[str, Any]) -> list[str]:
    return [
        "### Gallery with 10,000 images",
        "",
        (
            f"{r['rows']:,} ready images with {r['variants']:,} variants bulk-inserted into a "
            f"fresh PostgreSQL database ({r['seed_seconds']:.1f} s, then `VACUUM ANALYZE`); no S3 "
            "objects, but every URL comes from the real `Storage.variant_url` (presigned GETs "
            f"signed locally, {r['variant_url_us']:.0f} µs each, 150 per list page, and reused "
            "for half their lifetime, as in a warm container: after the warm-up rounds the two "
            "list pages are served with their URLs already signed; 180 of the 200 image pages "
            "sign their three). "
            f"{r['requests']} requests of each kind, interleaved, after {r['warmup_requests']} "
            "warm-up rounds, sequential. Measured through the Flask test client: on Lambda "
            "Zappa calls the WSGI app directly, so the in-process WSGI call times Kitteh's own "
            "work without a development server's socket and thread overhead that production "
            "never pays."
        ),
        "",
        *HEADER,
        *(_row(label, r[key]) for key, label in GALLERY_ROWS),
        "",
        (
            f"A list page whose URLs are not signed yet pays about "
            f"{r['variant_url_us'] * 150 / 1000:.0f} ms more (150 URLs); the SQL is well under "
            "a millisecond (plans below)."
        ),
        "",
        (
            f"Deep page / first page (p50): **{r['deep_over_first']:.2f}x** "
            f"(target <= {DEEP_PAGE_RATIO:g}x)."
        ),
        "",
        *_plans(r["explain"]),
    ]


#: (results key, what the row counts) of the load table, in reading order.
LOAD_ROWS = (
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
LOAD_PHASES = (
    ("no_faults", "no faults"),
    ("s3_resets", "S3 reset 2 × 2 s"),
    ("serial_relay", "no faults, relay one at a time"),
)


def _load(r: dict[str, Any]) -> list[str]:
    phases = [(key, label) for key, label in LOAD_PHASES if key in r["phases"]]
    header = "| | " + " | ".join(label for _, label in phases) + " |"
    rule = "| --- |" + " ---: |" * len(phases)
    lines = [
        "### Load: 200 uploads from 8 clients",
        "",
        (
            f"{r['uploads']} uploads of the {len(r['photos'])} real photos in `../shared/photos` "
            f"({r['photo_bytes'] / len(r['photos']) / 1e3:.0f} kB on average) from {r['clients']} "
            "client threads through `POST /api/images`, the app on Werkzeug's threaded server in "
            "the bench process; S3 (for the app and the resize function) behind "
            "`localcloud.faults.FaultyProxy`, SQS and PostgreSQL direct; the relay delivering "
            f"{r['relay_concurrency']} events at a time (one at a time in the last column). A "
            "client retries a 503 after its `Retry-After`. In the fault phase every S3 "
            f"connection is reset for {r['reset_seconds']:g} s after a third and after two thirds "
            f"of the uploads were answered; the bench's queue makes a failed delivery visible "
            f"again after {r['visibility_timeout_s']} s. Each phase has a fresh bucket, queue and "
            "database; the final state is read from them once every event went through the relay."
        ),
        "",
        header,
        rule,
    ]
    for key, label in LOAD_ROWS:
        cells = " | ".join(str(r["phases"][phase][key]) for phase, _ in phases)
        lines.append(f"| {label} | {cells} |")
    for key, label in (("upload_to_ready_ms", "upload → ready"), ("answer_ms", "one request")):
        for stat in ("p50_ms", "p95_ms"):
            cells = " | ".join(str(r["phases"][phase][key][stat]) for phase, _ in phases)
            lines.append(f"| {label} {stat.removesuffix('_ms')} ms | {cells} |")
    lines += [
        "",
        (
            "Upload → ready is long because the 200 uploads arrive faster than two cores resize "
            "them: it is mostly queueing, which is why the relay's concurrency shows in the time "
            "from the last answer to the last image ready."
        ),
        "",
    ]
    return lines


def _index_cell(query: dict[str, Any] | None) -> str:
    if query is None:
        return "not run"
    return f"{', '.join(query['indexes']) or 'no index'}, {query['execution_ms']}"


def _plans(explain: dict[str, Any]) -> list[str]:
    """Index use per page, then the images plans of the two timed pages."""
    lines = [
        "`EXPLAIN (ANALYZE, BUFFERS)` of the SQL the app ran for each page (captured from the "
        "engine while serving it; full plans in `results.json`):",
        "",
        "| page | images: index, execution ms | variants: index, execution ms |",
        "| --- | --- | --- |",
    ]
    for page in explain.values():
        images, variants = (_index_cell(page["queries"].get(t)) for t in ("images", "variants"))
        lines.append(f"| `{page['url']}` | {images} | {variants} |")
    lines.append("")
    used = {i for page in explain.values() for q in page["queries"].values() for i in q["indexes"]}
    if "ix_images_status_id" not in used:
        lines += [
            "Every row is `ready`, so the planner serves the `status=ready` pages from "
            "`pk_images` too (a backward scan whose status filter drops nothing, stopping after "
            "51 rows); `ix_images_status_id` (status, id) pays only when the status asked for "
            "is rare.",
            "",
        ]
    for kind in ("first_page", "deep_page"):
        plan = explain.get(kind, {}).get("queries", {}).get("images", {}).get("plan", [])
        lines += [f"{kind} (images):", "", "```", *plan, "```", ""]
    return lines
