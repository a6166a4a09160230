"""Paths, inputs and the measured-process helpers shared by the bench's modules.

Stdlib only: the worker imports it inside the process whose peak RSS is measured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"

#: The project reaches the shared data as ``../shared`` from its root.
IMAGES_DIR = Path(os.environ.get("BENCH_IMAGES", ROOT.parent / "shared" / "bench-images"))
INPUTS = ("small.jpg", "phone12.jpg", "large24.jpg", "alpha.png")

#: Every measured process runs on this one core (``taskset -c``); override on a shared box.
BENCH_CPU = os.environ.get("BENCH_CPU", "0")

#: Single-threaded libraries, so that "one core" holds even without taskset.
WORKER_ENV = {"VIPS_CONCURRENCY": "1", "MAGICK_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "1"}


def run_measured(
    cmd: list[str], *, pin: bool = True, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` from the project root, single-threaded, pinned to ``BENCH_CPU``; never raise
    on its exit status (callers record a failure as an error)."""
    taskset = shutil.which("taskset")
    if pin and taskset:
        cmd = [taskset, "-c", BENCH_CPU, *cmd]
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, **WORKER_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_json(module: str, *args: str, timeout: float = 300) -> dict[str, Any]:
    """``python -m module args`` in a fresh, pinned process: the JSON object on the last
    line of its stdout, or ``{"error": ...}`` with the end of its stderr."""
    proc = run_measured([sys.executable, "-m", module, *args], timeout=timeout)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


@lru_cache(maxsize=1)
def find_convert() -> str | None:
    """Path of a real ImageMagick ``convert``: ``PATH`` may hold a stand-in (this
    workplace ships one that only previews PNGs), so each candidate is asked its version."""
    for exe in (shutil.which("convert"), "/usr/bin/convert", "/usr/bin/convert-im6.q16"):
        if exe and os.access(exe, os.X_OK):
            version = run_measured([exe, "-version"], pin=False, timeout=10).stdout
            if version.startswith("Version: ImageMagick"):
                return exe
    return None
