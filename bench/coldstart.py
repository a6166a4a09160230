"""Cold start: module import wall time in fresh interpreters, and the package size.

A Lambda cold start pays for every import at module level, so the resize handler
must not pull in Flask, SQLAlchemy or boto3 service models it does not use. We
time the import exactly as a fresh interpreter sees it, and keep one
``-X importtime`` profile so a miss comes with the names of the slow imports.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from bench.common import ROOT, pinned, worker_env

MODULES = ("handlers.resize", "app")
RUNS = 9
PACKAGE = ROOT / "build" / "dev.zip"

_SNIPPET = "import time; t=time.perf_counter(); import {mod}; print(time.perf_counter()-t)"


def _once(module: str, python: list[str] | None = None, env: dict[str, str] | None = None) -> float:
    code = _SNIPPET.format(mod=module)
    proc = subprocess.run(
        pinned([*(python or [sys.executable]), "-c", code]),
        cwd=ROOT,
        env={**worker_env(), **(env or {})},
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


def is_optimised(python: str) -> bool:
    """Whether ``python`` was configured with ``--enable-optimizations`` (PGO + LTO)."""
    probe = (
        "import sysconfig; "
        "print('--enable-optimizations' in (sysconfig.get_config_var('CONFIG_ARGS') or ''))"
    )
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return out.stdout.strip() == "True"


def time_import_system(module: str) -> dict[str, Any] | None:
    """The same import under the distribution's CPython 3.11, when ours is a plain build.

    pyenv builds CPython without ``--enable-optimizations`` unless asked; Debian's
    and Lambda's interpreters are optimised builds. This row tells the
    interpreter's share from the code's. It reuses the project venv's packages
    (same 3.11 ABI and bytecode), so only the interpreter differs.
    """
    system = Path("/usr/bin/python3.11")
    if is_optimised(sys.executable) or not system.exists():
        return None
    if system.resolve() == Path(sys.executable).resolve():
        return None
    python = [str(system), "-S"]
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    try:
        _once(module, python, env)
        times = [_once(module, python, env) for _ in range(RUNS)]
    except RuntimeError as exc:
        return {"interpreter": str(system), "median_ms": None, "error": str(exc)}
    return {
        "interpreter": str(system),
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "runs": RUNS,
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
    return {
        "interpreter_optimised": is_optimised(sys.executable),
        "imports": {m: time_import(m) for m in MODULES},
        "imports_system_interpreter": {m: time_import_system(m) for m in MODULES},
        "package": package_size(),
    }
