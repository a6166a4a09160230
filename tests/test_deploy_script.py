"""scripts/deploy.py's refusals, before it touches anything (tests/deploy rehearses the rest)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from ops.stage import SETTINGS_FILE
from scripts import deploy


def test_the_shipped_placeholders_stop_a_deploy_at_once(
    aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy.main(["deploy", "dev"]) == 1

    out = capsys.readouterr().out
    assert (
        "deploy: settings, credentials and secrets failed: 4 settings still hold placeholders"
        in out
    )
    assert '"arn:aws:iam::REPLACE_ME_ACCOUNT_ID:role/kitteh-dev-lambda"' in out
    assert f"to fix: put your account's values in {SETTINGS_FILE}" in out
    assert "==> [2/7]" not in out


def test_an_unknown_stage_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["migrate", "staging"]) == 2
    assert "no stage 'staging'" in capsys.readouterr().out


@pytest.fixture
def filled_settings(tmp_path: Path) -> Path:
    text = SETTINGS_FILE.read_text().replace("REPLACE_ME_ACCOUNT_ID", "123456789012")
    path = tmp_path / "zappa_settings.json"
    path.write_text(text.replace("replace-me-", "mine-"))
    return path


def put_secrets(secrets: dict[str, str]) -> None:
    """Store the dev stage's secrets object where the filled settings' remote_env says."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="mine-kitteh-zappa-deploys")
    s3.put_object(
        Bucket="mine-kitteh-zappa-deploys",
        Key="secrets/kitteh-dev.json",
        Body=json.dumps(secrets),
    )


def test_missing_secrets_stop_a_deploy_with_the_upload_command(
    mocked_aws: None, filled_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_secrets({"DATABASE_URL": "postgresql+psycopg://db/kitteh"})

    assert deploy.main(["deploy", "dev", "--settings", str(filled_settings)]) == 1

    out = capsys.readouterr().out
    assert "failed: the secrets object lacks SECRET_KEY" in out
    assert (
        "aws s3 cp .deploy/kitteh-dev.json s3://mine-kitteh-zappa-deploys/secrets/kitteh-dev.json"
        in out
    )


def test_a_blank_secret_stops_a_deploy_as_a_missing_one_does(
    mocked_aws: None, filled_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a secrets object whose SECRET_KEY is blank (the doctor fails it as unset)
    put_secrets({"SECRET_KEY": "  ", "DATABASE_URL": "postgresql+psycopg://db/kitteh"})

    # WHEN a deploy starts, THEN it stops at its first step with the upload command
    assert deploy.main(["deploy", "dev", "--settings", str(filled_settings)]) == 1
    out = capsys.readouterr().out
    assert "failed: the secrets object lacks SECRET_KEY" in out
    assert "to fix: put SECRET_KEY and DATABASE_URL in .deploy/kitteh-dev.json" in out
    assert "==> [2/7]" not in out


def test_no_credentials_stop_a_deploy_with_how_to_provide_them(
    no_aws_credentials: None, filled_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy.main(["deploy", "dev", "--settings", str(filled_settings)]) == 1

    out = capsys.readouterr().out
    assert (
        "failed: no AWS credentials answer: NoCredentialsError: Unable to locate credentials" in out
    )
    assert "to fix: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)" in out


def test_no_credentials_means_none_even_where_the_process_resolved_some_before(
    aws_env: None,
    filled_settings: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN boto3's default session, which earlier work in this process (another test, the
    # suite's own stacks) has already made resolve the fake credentials
    boto3.client("sts")
    assert boto3.DEFAULT_SESSION is not None and boto3.DEFAULT_SESSION.get_credentials()

    # WHEN the credentials are taken away
    request.getfixturevalue("no_aws_credentials")

    # THEN the deploy finds none (not the cached ones, which would reach for AWS itself)
    assert deploy.main(["deploy", "dev", "--settings", str(filled_settings)]) == 1
    assert "NoCredentialsError: Unable to locate credentials" in capsys.readouterr().out
