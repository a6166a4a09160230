"""zappa_settings.json against what the code expects; no build, no AWS, milliseconds.

These hold the settings to the facts the package tests and docs/deploy.md rely on:
the event that triggers the resize function, where the settings and secrets come
from, what Zappa 0.63.0 silently ignores, and what the zip must leave out.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kitteh.config import Settings
from ops import bootstrap
from ops.stage import Stage
from tests.package.zappa_config import (
    RUNTIME_PROVIDED,
    load_settings,
    remote_env_location,
    stage_config,
)

STAGES = ("dev", "production")
SECRETS = ("SECRET_KEY", "DATABASE_URL")


@pytest.fixture(params=STAGES)
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    return stage_config(request.param)


def test_stages_are_dev_and_production_extending_it() -> None:
    settings = load_settings()
    assert set(settings) == set(STAGES)
    assert settings["production"]["extends"] == "dev"


def test_both_stages_serve_the_flask_app_quietly(config: dict[str, Any]) -> None:
    assert config["app_function"] == "app.app"
    # Lambda's python3.13 on Amazon Linux 2023: what the tests run on (test_runtime.py).
    assert config["runtime"] == "python3.13"
    assert config["architecture"] == "x86_64"
    # Zappa defaults to DEBUG, which logs every event whole: uploads included.
    assert config["log_level"] == "INFO"
    assert config["debug"] is False
    assert config["binary_support"] is True
    # One function serves the app and the resize events: sized for the resize.
    assert config["memory_size"] >= 1024
    assert config["timeout_seconds"] == 60


def resize_events(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in config["events"] if e["function"] == "handlers.resize.handler"]


def test_no_stage_lets_zappa_subscribe_the_function_to_a_bucket(config: dict[str, Any]) -> None:
    # For an S3 entry in events Zappa adds an invoke permission with a random id on
    # every update and never removes it (core.py create_event_permission/_clear_policy):
    # the function's policy grows until its 20 KB cap stops deploys. make deploy
    # (ops.wiring) keeps one permission and one notification instead.
    s3_sources = [e for e in config["events"] if "arn:aws:s3:" in str(e.get("event_source"))]
    assert s3_sources == []


def test_dev_resizes_on_s3_events_wired_by_make_deploy() -> None:
    config = stage_config("dev")
    assert resize_events(config) == []
    assert Stage("dev", config).queue_arn is None  # S3 invokes the function directly


def test_production_resizes_from_the_queue_with_its_dead_letters() -> None:
    config = stage_config("production")
    # S3 -> SQS -> Lambda only: an S3 trigger as well would resize everything twice
    # (and S3 refuses two notifications on one prefix anyway).
    (event,) = resize_events(config)
    arn = event["event_source"]["arn"]
    assert event["function"] == "handlers.resize.handler"
    assert arn.startswith("arn:aws:sqs:")
    assert arn.rsplit(":", 1)[1] == Settings().queue_name  # what ops.bootstrap creates
    assert event["event_source"]["batch_size"] <= 10
    # AWS's guidance for a Lambda consumer: a visibility timeout of at least six times
    # the function's timeout (throttled batches wait for retries while hidden), and a
    # maxReceiveCount of at least 5, so such waits do not dead-letter a message unread.
    assert bootstrap.FUNCTION_TIMEOUT == config["timeout_seconds"]
    assert bootstrap.VISIBILITY_TIMEOUT >= 6 * config["timeout_seconds"]
    assert bootstrap.MAX_RECEIVE_COUNT >= 5


def test_secrets_are_never_in_the_settings(config: dict[str, Any]) -> None:
    environment = {
        **config.get("environment_variables", {}),
        **config.get("aws_environment_variables", {}),
    }
    assert not set(SECRETS) & set(environment)
    assert not [v for v in environment.values() if re.search(r"://[^/@\s]+:[^/@\s]+@", v)]
    bucket, key = remote_env_location(config)
    assert bucket and key.endswith(".json")


def test_every_account_specific_value_is_an_obvious_placeholder(config: dict[str, Any]) -> None:
    specific = [
        config["s3_bucket"],
        config["role_arn"],
        config["remote_env"],
        config["aws_environment_variables"]["KITTEH_BUCKET"],
        *(event["event_source"]["arn"] for event in resize_events(config)),
    ]
    assert all(re.search("replace-me|REPLACE_ME", value) for value in specific), specific


def test_the_zip_leaves_out_the_runtimes_libraries_and_the_projects_tools(
    config: dict[str, Any],
) -> None:
    excluded = set(config["exclude"]) | set(config["exclude_glob"])
    for names in RUNTIME_PROVIDED.values():
        assert set(names) <= excluded
    assert {"tests", "bench", "docs", "localstack", "scripts", "instance"} <= excluded
    # The operator's tools (ops/: deploy, wiring, doctor, bootstrap) run off Lambda only.
    assert {"localcloud", "ops"} <= excluded
    assert {".venv", ".localstack", "build", "__pycache__", "*.pyc"} <= excluded
    # The package venv holds Lambda-ready wheels already; Zappa's PyPI swap is off.
    assert config["use_precompiled_packages"] is False
    assert config["slim_handler"] is False


@pytest.mark.parametrize("stage", ["dev", "production"])
def test_maintenance_runs_hourly(stage: str) -> None:
    schedules = [e for e in stage_config(stage)["events"] if "expression" in e]
    assert schedules == [{"function": "handlers.maintenance.handler", "expression": "rate(1 hour)"}]


def test_settings_file_is_plain_json_without_ignored_keys() -> None:
    text = json.dumps(load_settings())
    assert "key_filters" not in text
    assert "django_settings" not in text
