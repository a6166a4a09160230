"""One message for a file that is too large, naming the limit, on every way in.

The form, ``POST /api/images`` and ``POST /api/uploads`` refuse a file over
``KITTEH_MAX_UPLOAD_BYTES`` in the same words. Bodies a little over the limit reach
the core, which refuses them; bodies over the limit plus the multipart envelope are
refused by Werkzeug before any view runs, and must still not show its stock
sentence. (The direct upload's S3 refusal is worded by upload.js from the same
message, which the upload page carries: tests/browser.)
"""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from kitteh.config import Settings
from kitteh.storage import Storage
from kitteh.uploads import format_bytes

#: Small enough that Werkzeug's test client keeps the bodies in memory.
LIMIT = 100 * 1024
MESSAGE = "the file is larger than the 100 KB limit"
#: Refused by the core (under Flask's whole-request limit), and by Werkzeug (over it).
SIZES = pytest.mark.parametrize("size", [LIMIT + 1, 4 * LIMIT], ids=["core", "werkzeug"])


@pytest.fixture
def app(settings: Settings, storage: Storage, database: str) -> Flask:
    small = replace(settings, max_upload_bytes=LIMIT)
    # CSRF stays on: the form is posted as a browser posts it.
    return create_app(small, Storage(small, storage.client))


def nothing_stored(client: FlaskClient, storage: Storage) -> bool:
    listing = storage.client.list_objects_v2(Bucket=storage.settings.bucket)
    return "Contents" not in listing and client.get("/api/images").get_json()["items"] == []


@SIZES
def test_form_names_the_limit(client: FlaskClient, storage: Storage, size: int) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert token
    response = client.post(
        "/",
        data={"csrf_token": token.group(1), "file": (io.BytesIO(b"\xff" * size), "big.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert f"That upload did not work: {MESSAGE}." in response.text
    assert 'id="upload-form"' in response.text  # the form is back, to try another file
    assert nothing_stored(client, storage)


@SIZES
def test_api_images_names_the_limit(client: FlaskClient, storage: Storage, size: int) -> None:
    response = client.post(
        "/api/images",
        data={"file": (io.BytesIO(b"\xff" * size), "big.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.get_json() == {"error": MESSAGE}
    assert nothing_stored(client, storage)


def test_api_uploads_names_the_limit(client: FlaskClient, storage: Storage) -> None:
    response = client.post(
        "/api/uploads",
        json={"filename": "big.jpg", "content_type": "image/jpeg", "size": LIMIT + 1},
    )
    assert response.status_code == 413
    assert response.get_json() == {"error": MESSAGE}
    assert nothing_stored(client, storage)


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (25 * 1024 * 1024, "25 MB"),
        (100 * 1024, "100 KB"),
        (1536 * 1024, "1.5 MB"),
        (1023, "1023 bytes"),
        (3 * 1024**3, "3 GB"),
    ],
)
def test_limits_are_written_as_people_read_them(count: int, words: str) -> None:
    assert format_bytes(count) == words
