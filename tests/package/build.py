"""Build (when stale) and unpack the dev package, and stand in for the runtime's libraries.

The package is rebuilt with ``scripts/package.sh`` when ``build/dev.zip`` is
missing or older than anything that goes into it; the script itself reuses its
venv unless the requirements changed, so a cached run costs a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tests.package.zappa_config import ROOT, RUNTIME_PROVIDED

PACKAGE_SCRIPT = ROOT / "scripts" / "package.sh"
PACKAGE_ZIP = ROOT / "build" / "dev.zip"
PACKAGE_VENV = Path(os.environ.get("KITTEH_PACKAGE_VENV", ROOT / "build" / "venv"))
#: What the zip is made of: the project's run-time code and the build's inputs.
SOURCES = (
    "app.py",
    "handlers",
    "kitteh",
    "models",
    "views",
    "migrations",
    "templates",
    "static",
    "alembic.ini",
    "requirements.txt",
    "zappa_settings.json",
    "scripts/package.sh",
)


class BuildFailed(RuntimeError):
    """scripts/package.sh failed; the message carries the end of its output."""


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from (p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def newest_source_mtime() -> float:
    return max(f.stat().st_mtime for name in SOURCES for f in _files(ROOT / name))


def ensure_package() -> Path:
    """Return ``build/dev.zip``, building it first when missing or stale."""
    if PACKAGE_ZIP.exists() and PACKAGE_ZIP.stat().st_mtime >= newest_source_mtime():
        return PACKAGE_ZIP
    proc = subprocess.run(
        [str(PACKAGE_SCRIPT), "dev", str(PACKAGE_ZIP.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        # pip's complaints about this machine's extra index locations are noise here.
        lines = [
            line
            for line in (proc.stdout + proc.stderr).strip().splitlines()
            if not line.startswith("WARNING: Location")
        ]
        output = "\n".join(lines[-15:])
        raise BuildFailed(f"scripts/package.sh dev failed ({proc.returncode}):\n{output}")
    return PACKAGE_ZIP


def unpack(package: Path, target: Path) -> Path:
    """Unzip ``package`` into ``target``, as Lambda does into /var/task."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(target)
    return target


def runtime_layer(target: Path) -> Path:
    """Stand in for /var/runtime: boto3 and its dependencies, and nothing else.

    They are linked from the package venv, so the versions are requirements.txt's;
    the real runtime's boto3 is whatever AWS last put there (older, as a rule).
    """
    site = next(PACKAGE_VENV.glob("lib/python3.*/site-packages"))
    target.mkdir(parents=True, exist_ok=True)
    for names in RUNTIME_PROVIDED.values():
        for name in names:
            (target / name).symlink_to(site / name)
    return target
