"""The lock files: complete, hashed, in agreement with each other and with their inputs.

``make lock`` compiles each ``requirements*.in`` with uv; these checks need no network,
so a change to an ``.in`` file without ``make lock``, or a hand edit of a lock, fails here.
"""

from __future__ import annotations

import re
import sys
from itertools import combinations
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.package.zappa_config import runtime
from tests.support.locks import LOCKS, pins, requirement_lines


def _inputs(source: Path) -> list[Requirement]:
    """The requirements an ``.in`` file names, following its ``-r`` includes."""
    found: list[Requirement] = []
    for raw in source.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += _inputs(source.parent / line.removeprefix("-r ").strip())
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


@pytest.mark.parametrize("name", LOCKS)
def test_every_line_of_a_lock_is_one_release_with_its_hashes(name: str) -> None:
    lock = LOCKS[name]
    entries = re.split(r"\n(?=\S)", lock.read_text())
    requirements = [e for e in entries if not e.startswith("#")]
    assert len(requirements) == len(requirement_lines(lock)) > 0
    unpinned = [e.splitlines()[0] for e in requirements if "==" not in e.splitlines()[0]]
    unhashed = [e.splitlines()[0] for e in requirements if "--hash=sha256:" not in e]
    assert (unpinned, unhashed) == ([], [])


@pytest.mark.parametrize("name", LOCKS)
def test_each_lock_satisfies_the_file_it_is_compiled_from(name: str) -> None:
    lock = LOCKS[name]
    locked = pins(lock)
    unmet = [
        str(requirement)
        for requirement in _inputs(lock.with_suffix(".in"))
        if locked.get(canonicalize_name(requirement.name)) is None
        or not requirement.specifier.contains(locked[canonicalize_name(requirement.name)])
    ]
    assert unmet == [], f"{lock.name} is older than {lock.with_suffix('.in').name}: make lock"


def test_the_locks_agree_on_every_release_they_share() -> None:
    read = {name: pins(lock) for name, lock in LOCKS.items()}
    disagreements = {
        (a, b, dist): (read[a][dist], read[b][dist])
        for a, b in combinations(read, 2)
        for dist in read[a].keys() & read[b].keys()
        if read[a][dist] != read[b][dist]
    }
    assert disagreements == {}


def test_what_ships_is_in_the_local_and_dev_locks() -> None:
    # `make run` and `make test` run the very releases the package carries.
    runtime_pins = pins(LOCKS["runtime"]).items()
    assert runtime_pins <= pins(LOCKS["local"]).items()
    assert pins(LOCKS["local"]).items() <= pins(LOCKS["dev"]).items()


def test_the_tests_run_on_the_python_lambda_runs() -> None:
    assert f"python{sys.version_info.major}.{sys.version_info.minor}" == runtime()
