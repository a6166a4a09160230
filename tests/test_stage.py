"""ops.stage: a stage of zappa_settings.json, and its command for scripts/package.sh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ops.stage import SETTINGS_FILE, Stage, StageError

ROOT = SETTINGS_FILE.parent


def stage_command(*args: str) -> subprocess.CompletedProcess[str]:
    """``python3 -m ops.stage ARGS`` as package.sh runs it: before any venv exists.

    ``-S`` leaves site-packages (boto3, SQLAlchemy...) off the path: the standard
    library is all there is.
    """
    return subprocess.run(
        [sys.executable, "-S", "-m", "ops.stage", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("stage", ["dev", "production"])
def test_the_runtime_command_follows_extends_with_the_standard_library_alone(
    stage: str,
) -> None:
    done = stage_command("runtime", stage)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{Stage.load(stage).runtime}\n" == "python3.13\n"


def test_the_runtime_command_names_an_unknown_stage_and_the_known_ones() -> None:
    done = stage_command("runtime", "staging")

    assert done.returncode == 1 and done.stdout == ""
    assert "no stage 'staging'" in done.stderr and "(stages: dev, production)" in done.stderr


def test_a_stage_that_names_no_runtime_is_an_error(tmp_path: Path) -> None:
    settings = tmp_path / "zappa_settings.json"
    settings.write_text(json.dumps({"base": {"project_name": "x"}, "dev": {"extends": "base"}}))

    with pytest.raises(StageError, match="stage 'dev' names no runtime"):
        _ = Stage.load("dev", settings).runtime
