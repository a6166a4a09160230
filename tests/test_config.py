"""Settings from the environment: defaults, whole numbers, and renamed variables."""

from __future__ import annotations

import logging

import pytest

from kitteh import config
from kitteh.config import DEFAULT_MAX_UPLOAD_BYTES, Settings


@pytest.fixture(autouse=True)
def warn_again() -> None:
    config._warned.clear()


def test_defaults_with_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.max_upload_bytes == DEFAULT_MAX_UPLOAD_BYTES == 25 * 1024 * 1024
    assert settings.variants_bucket_name == settings.bucket == "kitteh-images"
    assert settings.cors_origins == ("*",)


def test_the_upload_limit_is_kitteh_max_upload_bytes() -> None:
    assert Settings.from_env({"KITTEH_MAX_UPLOAD_BYTES": "1000"}).max_upload_bytes == 1000


def test_the_old_name_still_works_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kitteh.config"):
        settings = Settings.from_env({"MAX_CONTENT_LENGTH": "2000"})
        Settings.from_env({"MAX_CONTENT_LENGTH": "2000"})

    assert settings.max_upload_bytes == 2000
    # Said once per process, not at every event.
    assert caplog.messages == [
        "MAX_CONTENT_LENGTH is deprecated and will be removed; set KITTEH_MAX_UPLOAD_BYTES instead"
    ]


def test_the_new_name_wins_over_the_old_one(caplog: pytest.LogCaptureFixture) -> None:
    env = {"KITTEH_MAX_UPLOAD_BYTES": "1000", "MAX_CONTENT_LENGTH": "2000"}
    assert Settings.from_env(env).max_upload_bytes == 1000


@pytest.mark.parametrize("name", ["KITTEH_MAX_UPLOAD_BYTES", "MAX_CONTENT_LENGTH"])
def test_a_limit_that_is_not_a_number_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match="KITTEH_MAX_UPLOAD_BYTES must be a whole number"):
        Settings.from_env({name: "25MB"})
