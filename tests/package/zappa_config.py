"""zappa_settings.json as Zappa reads it, and what the Lambda runtime brings itself.

Shared by the settings checks (no build needed) and the package fixtures, so the
tests read bucket names, environment and events from the same file that deploys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "zappa_settings.json"

#: Distributions the Lambda Python runtime ships (boto3 and its dependencies),
#: left out of the zip; with their top-level import names.
RUNTIME_PROVIDED: dict[str, tuple[str, ...]] = {
    "boto3": ("boto3",),
    "botocore": ("botocore",),
    "s3transfer": ("s3transfer",),
    "jmespath": ("jmespath",),
    "python-dateutil": ("dateutil",),
    "six": ("six.py",),
    "urllib3": ("urllib3",),
}
#: Of Zappa's own dependencies, what its handler imports at run time.
ZAPPA_RUNTIME = frozenset({"zappa", "durationpy", "werkzeug"})


def load_settings() -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(SETTINGS_FILE.read_text())
    return settings


def runtime() -> str:
    """The Lambda runtime every stage names ("python3.13"): the one the tests run on."""
    runtimes = {stage_config(name).get("runtime") for name in load_settings()}
    assert len(runtimes) == 1, f"the stages name different runtimes: {runtimes}"
    return str(runtimes.pop())


def python_tag() -> str:
    """The runtime's CPython tag, as wheels and .pyc names spell it ("cp313")."""
    return "cp" + runtime().removeprefix("python").replace(".", "")


def stage_config(stage: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return ``stage``'s settings with ``extends`` applied, as Zappa's CLI does."""
    settings = settings if settings is not None else load_settings()
    config = dict(settings[stage])
    parent = config.get("extends")
    if parent:
        return {**stage_config(parent, settings), **config}
    return config


def source_events(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The stage's triggers by an event source (S3, SQS); not its schedules."""
    return [event for event in config["events"] if "event_source" in event]


def remote_env_location(config: dict[str, Any]) -> tuple[str, str]:
    """Split the stage's ``remote_env`` ("s3://bucket/key") into bucket and key."""
    bucket, _, key = config["remote_env"].removeprefix("s3://").partition("/")
    return bucket, key
