"""``make run``'s embedded default, end to end over real HTTP: every photo, every upload path.

The app runs as its own process exactly as ``make run`` starts it; uploads go
through the form, the JSON API and a presigned POST to the in-process S3, and
the relay turns each object-created event into a resize-function invocation.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from PIL import Image

from tests.conftest import PHOTOS
from tests.support.pictures import assert_upright
from tests.support.running_app import running_app, wait_until_processed

PHOTO_PATHS = sorted(PHOTOS.glob("*.jpg"))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("run") / "make-run.log"
    with running_app(log, {"KITTEH_STACK": "embedded"}) as url:
        yield url


def upload_with_form(base_url: str, data: bytes, filename: str) -> requests.Response:
    session = requests.Session()
    page = session.get(f"{base_url}/", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return session.post(
        f"{base_url}/",
        data={"csrf_token": token.group(1)},
        files={"file": (filename, data, "image/jpeg")},
        allow_redirects=False,
        timeout=30,
    )


def name_from_form_upload(base_url: str, data: bytes, filename: str) -> str:
    response = upload_with_form(base_url, data, filename)
    assert response.status_code == 303, response.text[:500]
    match = re.fullmatch(r"/([A-Za-z]+)Kitty", urlparse(response.headers["Location"]).path)
    assert match, response.headers["Location"]
    return match.group(1)


def name_from_api_upload(base_url: str, data: bytes, filename: str) -> str:
    response = requests.post(f"{base_url}/api/images", files={"file": (filename, data)}, timeout=30)
    assert response.status_code == 201, response.text
    return str(response.json()["name"])


def name_from_presigned_post(base_url: str, data: bytes, filename: str) -> str:
    grant = requests.post(
        f"{base_url}/api/uploads",
        json={"filename": filename, "content_type": "image/jpeg", "size": len(data)},
        timeout=10,
    )
    assert grant.status_code == 201, grant.text
    body = grant.json()
    stored = requests.post(
        body["url"], data=body["fields"], files={"file": (filename, data)}, timeout=30
    )
    assert stored.status_code in (200, 201, 204), stored.text
    return str(body["name"])


UPLOADERS = {
    "form": name_from_form_upload,
    "api": name_from_api_upload,
    "presigned": name_from_presigned_post,
}


@pytest.mark.parametrize("path", PHOTO_PATHS, ids=lambda p: p.stem)
@pytest.mark.parametrize("how", UPLOADERS)
def test_every_photo_ends_ready_and_upright(base_url: str, how: str, path: Path) -> None:
    started = time.monotonic()
    name = UPLOADERS[how](base_url, path.read_bytes(), path.name)

    image = wait_until_processed(base_url, name)

    assert image["status"] == "ready", image
    assert time.monotonic() - started < 10
    landscape = "Landscape" in path.name
    expected = {
        "monstrous": (600, 400) if landscape else (400, 600),
        "large": (300, 200) if landscape else (200, 300),
        "tiny": (90, 60) if landscape else (60, 90),
    }
    variants = image["variants"]
    assert isinstance(variants, dict)
    for kind, size in expected.items():
        served = requests.get(variants[kind]["url"], timeout=10)
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(served.content)).size == size
        if kind != "tiny":  # 90 px is too few to tell a mirror by the mean
            assert_upright(served.content, path)
    page = requests.get(f"{base_url}/{name}Kitty", timeout=10).text
    assert page.count("data-variant=") == 3


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [(b"Dear diary, today I am a text file.\n", 415, "not an image"), (b"", 400, "empty")],
    ids=["text", "empty"],
)
def test_bad_files_get_clear_errors(base_url: str, data: bytes, status: int, message: str) -> None:
    api = requests.post(f"{base_url}/api/images", files={"file": ("x.jpg", data)}, timeout=10)
    assert api.status_code == status and message in api.json()["error"]
    form = upload_with_form(base_url, data, "x.jpg")
    assert form.status_code == status and message in form.text
    assert requests.get(f"{base_url}/healthz", timeout=5).status_code == 200


def test_truncated_jpeg_ends_failed_with_a_reason(base_url: str) -> None:
    photo = (PHOTOS / "exif-Landscape_1.jpg").read_bytes()
    name = name_from_api_upload(base_url, photo[: len(photo) // 2], "cut.jpg")
    image = wait_until_processed(base_url, name)
    assert image["status"] == "failed"
    assert "truncated" in str(image["error"])
    assert requests.get(f"{base_url}/healthz", timeout=5).status_code == 200
