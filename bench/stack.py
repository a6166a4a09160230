"""The stack benchmarks: end to end on LocalStack + PostgreSQL, and the gallery at scale.

* ``upload_to_ready`` (:mod:`bench.e2e`): from a presigned upload's POST to S3
  answered to the image being ``ready``, through S3 -> SQS -> relay -> resize.
* ``gallery_10k`` (:mod:`bench.gallery`): API and image pages with 10,000 images.

They need LocalStack on 127.0.0.1:4566 (``bench/run.sh`` starts it through
``localstack/with-localstack.sh`` and stops it afterwards if it started it) and the
PostgreSQL server at 127.0.0.1:5432 (``KITTEH_BENCH_POSTGRES_URL``). Each part runs
with names of its own (bucket, queues, databases) and removes them, so a shared
LocalStack or server is left as it was. A part that fails is recorded as
``{"error": ...}`` and the other still runs; ``bench.run`` then exits non-zero.
"""

from __future__ import annotations

import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from bench import e2e, gallery
from kitteh.config import Settings
from localcloud.harness import environment, localstack_problem, stack_environment


def run(enabled: bool) -> dict[str, Any]:
    """The ``stack`` part of ``results.json``; ``{"skipped": ...}`` under ``--no-stack``."""
    if not enabled:
        return {"skipped": "run without --no-stack (needs LocalStack and PostgreSQL)"}
    started = time.perf_counter()
    run_name = f"kitteh-bench-{uuid.uuid4().hex[:10]}"
    # The relay logs every delivery and the handler every image at INFO.
    with environment(stack_environment(run_name) | {"LOG_LEVEL": "WARNING"}):
        results: dict[str, Any] = {
            "upload_to_ready": _part("upload->ready", _upload_to_ready),
            "gallery_10k": _part("gallery 10k", lambda: gallery.run(Settings.from_env())),
        }
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def failed(stack: dict[str, Any]) -> list[str]:
    """Names of the parts that ended in an error."""
    return [name for name, part in stack.items() if isinstance(part, dict) and "error" in part]


def _upload_to_ready() -> dict[str, Any]:
    problem = localstack_problem()
    if problem:
        raise RuntimeError(problem)
    return e2e.run()


def _part(label: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one part; a failure becomes its result instead of losing the whole bench."""
    print(f"stack: {label}...", file=sys.stderr)
    started = time.perf_counter()
    try:
        result = measure()
    except Exception as exc:  # noqa: BLE001 - recorded, reported and turned into the exit status
        traceback.print_exc()
        return {"error": " ".join(f"{type(exc).__name__}: {exc}".split())[:500]}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
