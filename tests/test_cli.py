"""``flask --app app kitteh …``: the operator's commands, through Flask's CLI runner."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from flask import Flask

from app import create_app
from kitteh import migrate
from kitteh.aws import s3_client, sqs_client
from kitteh.config import Settings


@pytest.fixture
def cli_app(settings: Settings) -> Flask:
    """The app as ``flask --app app`` builds it: from the environment alone."""
    return create_app(test_config={"TESTING": True})


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["kitteh", *args])


def test_migrate_brings_the_schema_to_head_and_says_so(cli_app: Flask) -> None:
    result = invoke(cli_app, "migrate")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"from": None, "to": migrate.head_revision()}

    again = invoke(cli_app, "migrate")
    assert json.loads(again.output) == {
        "from": migrate.head_revision(),
        "to": migrate.head_revision(),
    }


def test_migrate_to_a_revision_and_back(cli_app: Flask) -> None:
    invoke(cli_app, "migrate")
    down = invoke(cli_app, "migrate", "--revision", "base")
    assert down.exit_code == 0 and json.loads(down.output)["to"] is None


def test_a_failed_migration_exits_non_zero_with_the_reason(cli_app: Flask) -> None:
    result = invoke(cli_app, "migrate", "--revision", "no-such-revision")
    assert result.exit_code == 1
    assert "no-such-revision" in result.output and "the schema stands at None" in result.output


def test_bootstrap_sets_up_the_cloud_side(
    cli_app: Flask, settings: Settings, mocked_aws: None
) -> None:
    result = invoke(cli_app, "bootstrap", "--origin", "https://kitteh.example")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cors_origins"] == ["https://kitteh.example"]
    buckets = {b["Name"] for b in s3_client(settings).list_buckets()["Buckets"]}
    assert buckets == {settings.bucket, settings.variants_bucket_name}
    assert summary["queue_url"] in sqs_client(settings).list_queues()["QueueUrls"]


def test_bootstrap_without_queue_leaves_the_events_to_zappa(
    cli_app: Flask, settings: Settings, mocked_aws: None
) -> None:
    result = invoke(cli_app, "bootstrap", "--no-queue")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["queue_url"] is None
    assert "QueueUrls" not in sqs_client(settings).list_queues()


@pytest.mark.parametrize("command", ["doctor", "bootstrap"])
def test_operator_commands_without_the_ops_package_say_where_to_run_them(
    cli_app: Flask, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # GIVEN an install without ops/ (the Lambda package leaves it out): None in
    # sys.modules makes importing a module fail as a missing one does
    for module in ("ops", f"ops.{command}"):
        monkeypatch.setitem(sys.modules, module, None)

    # WHEN an operator's command runs there
    result = invoke(cli_app, command)

    # THEN it fails with the reason and where it runs, not with a traceback
    assert result.exit_code == 1
    assert f"Error: flask kitteh {command} needs the ops/ package" in result.output
    assert "which the Lambda package leaves out" in result.output
    assert f"run it from a checkout of Kitteh (make {command})" in result.output
