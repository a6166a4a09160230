"""A deployment stage as ``zappa_settings.json`` describes it, for the tools that run against it.

``make deploy``, ``make migrate`` and ``flask kitteh doctor --stage`` read the same
file Zappa deploys from, with ``extends`` applied as Zappa applies it, so the
function name, the buckets and the queue they check are the ones Zappa used. The
secrets (``SECRET_KEY``, ``DATABASE_URL``) are not in the file: they live in the
S3 object ``remote_env`` names, which :func:`ops.account.read_remote_env` fetches.

This module reads a file and nothing else, with the standard library alone (and
:mod:`kitteh.config`, which is too): ``scripts/package.sh`` runs
``python3 -m ops.stage runtime STAGE`` with the machine's python3, before any venv
exists. What asks AWS about a stage is :mod:`ops.account`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitteh.config import Settings

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "zappa_settings.json"
RESIZE_FUNCTION = "handlers.resize.handler"
#: What the shipped settings say where an account's own value belongs.
PLACEHOLDER = re.compile(r"replace-me|REPLACE_ME", re.IGNORECASE)
#: Lambda's default timeout, which Zappa also uses when the stage names none.
DEFAULT_TIMEOUT_SECONDS = 30


class StageError(ValueError):
    """The stage is missing from the settings, or they cannot describe a deployment."""


def load_stage_config(stage: str, settings_file: Path = SETTINGS_FILE) -> dict[str, Any]:
    """Return ``stage``'s settings with ``extends`` applied, as Zappa's CLI does."""
    try:
        everything: dict[str, Any] = json.loads(settings_file.read_text())
    except (OSError, ValueError) as exc:
        raise StageError(f"cannot read {settings_file}: {exc}") from exc
    seen: list[str] = []
    config: dict[str, Any] = {}
    name: str | None = stage
    while name is not None:
        if name in seen:
            raise StageError(f"stage {stage!r} extends itself: {' -> '.join([*seen, name])}")
        if name not in everything:
            known = ", ".join(sorted(everything))
            raise StageError(f"no stage {name!r} in {settings_file} (stages: {known})")
        seen.append(name)
        config = {**everything[name], **config}
        name = everything[name].get("extends")
    return config


@dataclass(frozen=True)
class Stage:
    """What the deployment tools need to know about one stage."""

    name: str
    config: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, name: str, settings_file: Path = SETTINGS_FILE) -> Stage:
        return cls(name, load_stage_config(name, settings_file))

    @property
    def function_name(self) -> str:
        """The Lambda function Zappa names ``<project_name>-<stage>``."""
        return f"{self.config['project_name']}-{self.name}"

    @property
    def region(self) -> str:
        return str(self.config.get("aws_region") or "us-east-1")

    @property
    def environment(self) -> dict[str, str]:
        """The function's environment variables as Zappa sets them."""
        return {str(k): str(v) for k, v in self.config.get("aws_environment_variables", {}).items()}

    @property
    def runtime(self) -> str:
        """The Lambda runtime the stage names ("python3.13"): the Python the tests run on.

        :raise StageError: neither the stage nor one it extends names a runtime.
        """
        if "runtime" not in self.config:
            raise StageError(f"stage {self.name!r} names no runtime")
        return str(self.config["runtime"])

    @property
    def timeout_seconds(self) -> int:
        return int(self.config.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS))

    @property
    def domain(self) -> str | None:
        domain = self.config.get("domain")
        return str(domain) if domain else None

    @property
    def queue_arn(self) -> str | None:
        """The SQS queue the resize function reads (production), or None (S3 invokes it)."""
        for event in self.config.get("events", []):
            arn = str(event.get("event_source", {}).get("arn", ""))
            if event.get("function") == RESIZE_FUNCTION and arn.startswith("arn:aws:sqs:"):
                return arn
        return None

    @property
    def remote_env(self) -> tuple[str, str] | None:
        """``(bucket, key)`` of the secrets object, or None when the stage names none."""
        location = str(self.config.get("remote_env") or "")
        if not location.startswith("s3://"):
            return None
        bucket, _, key = location.removeprefix("s3://").partition("/")
        return bucket, key

    def placeholders(self) -> list[str]:
        """Settings that still hold the shipped placeholders, as ``key: value``."""
        found = []
        for key, value in sorted(self.config.items()):
            text = json.dumps(value)
            if PLACEHOLDER.search(text):
                found.append(f"{key}: {text}")
        return found

    def settings(
        self, secrets: dict[str, str] | None = None, endpoint_url: str | None = None
    ) -> Settings:
        """Kitteh's settings as the deployed function sees them (plus ``secrets``).

        ``endpoint_url`` is for emulators only: a stage on AWS has none.
        """
        env = {**self.environment, **(secrets or {}), "AWS_REGION": self.region}
        if self.queue_arn:
            env["KITTEH_QUEUE"] = self.queue_arn.rsplit(":", 1)[1]
        if endpoint_url:
            env["AWS_ENDPOINT_URL"] = endpoint_url
        return Settings.from_env(env)


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 -m ops.stage runtime STAGE``: print the stage's runtime ("python3.13").

    For ``scripts/package.sh``, which builds the package's venv for that runtime;
    an unknown stage, or one without a runtime, exits 1 saying why on stderr.
    """
    parser = argparse.ArgumentParser(prog="python3 -m ops.stage", description=main.__doc__)
    parser.add_argument("what", choices=["runtime"], help="what to print of the stage")
    parser.add_argument("stage", help="a stage of zappa_settings.json")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(f"{Stage.load(args.stage).runtime}\n")
    except StageError as exc:
        sys.stderr.write(f"ops.stage: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
