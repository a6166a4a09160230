"""The stack part: what needs LocalStack and PostgreSQL, under ``results["stack"]``.

LocalStack on 127.0.0.1:4566 (``bench/run.sh`` starts one if none answers), PostgreSQL
on 127.0.0.1:5432 (or ``KITTEH_TEST_POSTGRES_URL``). Each part's bucket, queues and
database are its own and removed afterwards. A part that fails is recorded as
``{"error": ...}``, the others still run, and ``make bench`` exits non-zero.

Its parts (:data:`PARTS`) have the three functions of :mod:`bench.run`'s, given their
own entry instead of ``results``: ``run(database_url)`` measures in a private stack's
environment, ``DATABASE_URL`` naming a fresh, migrated database (so that
``app.create_app()`` is all it needs); ``targets(part)`` may get ``{"error": ...}``.

* ``upload_to_ready`` (:mod:`bench.e2e`): one presigned upload at a time, from S3's
  answer to ``ready``, through S3 -> SQS -> relay -> resize.
* ``gallery_10k`` (:mod:`bench.gallery`): API and image pages with 10,000 images.
* ``load`` (:mod:`bench.load`): 200 uploads from 8 clients, without faults, with S3
  reset twice for 2 s, and with the relay delivering one event at a time.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import uuid
from types import ModuleType
from typing import Any

from bench import e2e, gallery, load
from kitteh.db import get_engine
from kitteh.migrate import upgrade
from localcloud.harness import environment, stack_environment
from localcloud.postgres import throwaway_database

PARTS: dict[str, ModuleType] = {"upload_to_ready": e2e, "gallery_10k": gallery, "load": load}


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.stack:
        return {"stack": {"skipped": "run without --no-stack (needs LocalStack and PostgreSQL)"}}
    started = time.perf_counter()
    # The relay logs every delivery and the handler every image at INFO.
    env = stack_environment(f"kitteh-bench-{uuid.uuid4().hex[:10]}") | {"LOG_LEVEL": "WARNING"}
    with environment(env):
        stack: dict[str, Any] = {key: _run_part(key, part) for key, part in PARTS.items()}
    stack["seconds"] = round(time.perf_counter() - started, 1)
    return {"stack": stack}


def _run_part(key: str, part: ModuleType) -> dict[str, Any]:
    print(f"stack: {key}...", file=sys.stderr)
    started = time.perf_counter()
    try:
        with throwaway_database(f"kitteh_bench_{key}") as url, environment({"DATABASE_URL": url}):
            upgrade(url)
            result: dict[str, Any] = part.run(url)
            get_engine(url).dispose()
    except Exception as exc:  # noqa: BLE001 - recorded, reported and turned into the exit status
        traceback.print_exc()
        return {"error": " ".join(f"{type(exc).__name__}: {exc}".split())[:500]}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    stack = results["stack"]
    missing = {"error": "skipped (--no-stack)" if "skipped" in stack else "not run"}
    return [t for key, part in PARTS.items() for t in part.targets(stack.get(key, missing))]


def render(results: dict[str, Any]) -> list[str]:
    stack = results["stack"]
    lines = ["## Stack benchmarks (LocalStack + PostgreSQL)", ""]
    if "skipped" in stack:
        return [*lines, f"Skipped: {stack['skipped']}.", ""]
    lines += [
        "Milliseconds, not ratios, and not pinned: LocalStack (host mode), PostgreSQL and "
        "the bench process share every core, so a busy machine shows here first. The part "
        f"took {stack['seconds']:.0f} s; `bench/run.sh --no-stack` skips it.",
        "",
    ]
    for key, part in PARTS.items():
        if "error" in stack[key]:
            lines += [f"- {key}: **error** {stack[key]['error']}", ""]
        else:
            lines += part.render(stack[key])
    return lines
