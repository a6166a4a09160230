"""Hooks for the benchmarks that need the running stack (not implemented yet).

Two later parts need LocalStack and PostgreSQL up, so they cannot run in the
plain ``make bench`` that only needs Python and the bench images:

* ``upload_to_ready``: end-to-end latency from a presigned upload landing in S3
  to all three renditions being ready (resize Lambda via LocalStack).
* ``gallery_10k``: gallery page latency with 10,000 image rows in PostgreSQL.

Each hook returns a dict that ``run.py`` stores under ``results["stack"]`` and the
report prints; ``None`` fields mean "not measured". Implement them here, keep them
bounded (fixed request counts, loopback only), and gate them behind ``--stack``.
"""

from __future__ import annotations

from typing import Any

NOT_YET = "not implemented: needs the running stack (LocalStack + PostgreSQL)"


def upload_to_ready() -> dict[str, Any]:
    """End-to-end upload -> ready latency on LocalStack (median/p95 ms)."""
    return {"median_ms": None, "p95_ms": None, "note": NOT_YET}


def gallery_10k() -> dict[str, Any]:
    """Gallery page latency with 10,000 rows in PostgreSQL (median/p95 ms)."""
    return {"rows": 10_000, "median_ms": None, "p95_ms": None, "note": NOT_YET}


def run(enabled: bool) -> dict[str, Any]:
    """The stack part of ``results.json``; skipped unless ``--stack`` is given."""
    if not enabled:
        return {"skipped": "pass --stack with LocalStack and PostgreSQL running"}
    return {"upload_to_ready": upload_to_ready(), "gallery_10k": gallery_10k()}
