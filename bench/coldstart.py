"""Cold start: module import wall time in fresh interpreters, and the package size.

A Lambda cold start pays for every import at module level, so the resize handler
must not pull in Flask, SQLAlchemy or boto3 service models it does not use. We
time the import exactly as a fresh interpreter sees it, and keep one
``-X importtime`` profile so a miss comes with the names of the slow imports.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from typing import Any

from bench.common import ROOT, pinned, worker_env

MODULES = ("handlers.resize", "app")
RUNS = 9
PACKAGE = ROOT / "build" / "dev.zip"

_SNIPPET = "import time; t=time.perf_counter(); import {mod}; print(time.perf_counter()-t)"


def _once(module: str) -> float:
    code = _SNIPPET.format(mod=module)
    proc = subprocess.run(
        pinned([sys.executable, "-c", code]),
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(" | ".join(proc.stderr.strip().splitlines()[-2:]))
    return float(proc.stdout.strip().splitlines()[-1]) * 1000


def slowest_imports(module: str, top: int = 8) -> list[dict[str, Any]]:
    """Top cumulative entries of ``python -X importtime -c 'import module'``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append({"module": m[4], "cumulative_ms": int(m[2]) / 1000, "depth": len(m[3])})
    rows.sort(key=lambda r: float(r["cumulative_ms"]), reverse=True)
    return [r for r in rows if r["module"] != module][:top]


def time_import(module: str, runs: int = RUNS) -> dict[str, Any]:
    """Median/min import ms over ``runs`` fresh processes (after one that warms .pyc)."""
    try:
        _once(module)  # compile .pyc and warm the page cache; not counted
        times = [_once(module) for _ in range(runs)]
    except RuntimeError as exc:
        return {"median_ms": None, "error": str(exc)}
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "runs": runs,
        "slowest_imports": slowest_imports(module),
    }


def package_size() -> dict[str, Any]:
    """Size of the Zappa package, if ``make package`` has built it."""
    if not PACKAGE.exists():
        return {
            "path": str(PACKAGE.relative_to(ROOT)),
            "mb": None,
            "note": "run make package first",
        }
    size = PACKAGE.stat().st_size
    return {"path": str(PACKAGE.relative_to(ROOT)), "bytes": size, "mb": size / 1e6}


def run() -> dict[str, Any]:
    """The cold-start part of ``results.json``."""
    return {"imports": {m: time_import(m) for m in MODULES}, "package": package_size()}
