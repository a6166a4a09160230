"""The lock files that `make lock` compiles, read as ``{distribution: version}``."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
#: Each lock, from what ships (the run-time one) to what only a developer installs.
LOCKS = {
    "runtime": ROOT / "requirements.txt",
    "zappa": ROOT / "requirements-zappa.txt",
    "local": ROOT / "requirements-local.txt",
    "dev": ROOT / "requirements-dev.txt",
    "bench": ROOT / "bench" / "requirements.txt",
}
#: "name[extras]==version \\" or "name==version ; marker \\": a lock's requirement line.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def requirement_lines(lock: Path) -> list[str]:
    """The lock's requirement lines: not comments, hashes or continuations."""
    return [
        line
        for line in lock.read_text().splitlines()
        if line.strip() and not line.startswith((" ", "#", "-"))
    ]


def pins(lock: Path) -> dict[str, str]:
    """Every distribution the lock names, with the one version it pins."""
    return {canonicalize_name(m[1]): m[3] for m in _PIN.finditer(lock.read_text())}
