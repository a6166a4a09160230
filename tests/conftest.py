"""Shared fixtures: moto for AWS, a migrated SQLite database, the app and its client.

Settings reach the code the way they do in production, through the
environment: the fixtures set it, so the app, the handlers and the relay all
see the same buckets and database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws

from app import create_app
from kitteh.aws import s3_client
from kitteh.config import Settings
from kitteh.migrate import upgrade
from kitteh.storage import Storage, get_storage

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and none of the developer's own AWS set-up."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def no_aws_credentials(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere, and no instance metadata to ask for some."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3's default session keeps the credentials it resolved once: a session that an
    # earlier test made resolve the fake ones would still sign with them.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    """moto in place of AWS; clients made inside it talk to moto."""
    with mock_aws():
        yield


@pytest.fixture
def settings(aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kitteh.db'}")
    monkeypatch.setenv("KITTEH_BUCKET", "kitteh-test-originals")
    monkeypatch.setenv("KITTEH_VARIANTS_BUCKET", "kitteh-test-variants")
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    return Settings.from_env()


@pytest.fixture
def s3(settings: Settings, mocked_aws: None) -> Iterator[Any]:
    """A moto S3 with both buckets."""
    client = s3_client(settings)
    client.create_bucket(Bucket=settings.bucket)
    client.create_bucket(Bucket=settings.variants_bucket_name)
    get_storage.cache_clear()
    yield client
    get_storage.cache_clear()


@pytest.fixture
def storage(settings: Settings, s3: Any) -> Storage:
    return Storage(settings, client=s3)


@pytest.fixture
def database(settings: Settings) -> str:
    upgrade(settings.database_url)
    return settings.database_url


@pytest.fixture
def ready_storage(storage: Storage, database: str) -> Storage:
    """The storage of a stack whose database is migrated: what a handler runs against."""
    return storage


@pytest.fixture
def app(settings: Settings, storage: Storage, database: str) -> Flask:
    return create_app(settings, storage, test_config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def photo() -> bytes:
    """A real photo stored 1200x1800 whose EXIF says: turn me 90° (upright 1800x1200)."""
    return (PHOTOS / "exif-Landscape_6.jpg").read_bytes()
