"""What a browser and an API client do against the stack, as small steps the tests combine."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import requests
from flask.testing import FlaskClient
from PIL import Image as PILImage

from kitteh.imaging import VARIANT_KINDS
from kitteh.storage import VARIANT_CACHE_CONTROL
from localcloud.harness import wait_for

#: How long an upload may take to become ready or failed: generous for a loaded CI
#: machine, while a healthy run takes about a second.
PROCESSING_TIMEOUT = 30
#: Variant sizes of the shared photos, whose upright size is 1800×1200 (landscape) or
#: 1200×1800 (portrait) once their EXIF orientation is applied.
LANDSCAPE = {"monstrous": (600, 400), "large": (300, 200), "tiny": (90, 60)}
PORTRAIT = {kind: (height, width) for kind, (width, height) in LANDSCAPE.items()}


def get_resource(client: FlaskClient, name: str) -> dict[str, Any]:
    response = client.get(f"/api/images/{name}")
    assert response.status_code == 200, response.get_json()
    resource: dict[str, Any] = response.get_json()
    return resource


def wait_until_processed(client: FlaskClient, name: str) -> dict[str, Any]:
    """Poll the API, as the image page does, until the image is no longer pending."""
    resource: dict[str, Any] = wait_for(
        lambda: (r := get_resource(client, name))["status"] != "pending" and r,
        timeout=PROCESSING_TIMEOUT,
        what=f"image {name} to leave 'pending' (is the relay delivering?)",
    )
    return resource


def request_upload(
    client: FlaskClient, filename: str, size: int, content_type: str = "image/jpeg"
) -> dict[str, Any]:
    """Ask the app for a presigned POST, as the upload page's script does for large files."""
    response = client.post(
        "/api/uploads", json={"filename": filename, "content_type": content_type, "size": size}
    )
    assert response.status_code == 201, response.get_json()
    grant: dict[str, Any] = response.get_json()
    assert grant["status"] == "pending"
    return grant


def post_to_s3(
    grant: Mapping[str, Any],
    data: bytes,
    *,
    filename: str = "upload.jpg",
    content_type: str = "image/jpeg",
    **overrides: str,
) -> requests.Response:
    """POST a file straight to S3 with the grant's fields, as a browser's form would.

    ``overrides`` replace or add form fields (``key``, ``Content-Type``…), to play a
    client that tries to stretch the policy.
    """
    fields = {**grant["fields"], **overrides}
    return requests.post(
        grant["url"], data=fields, files={"file": (filename, data, content_type)}, timeout=30
    )


def upload_via_api(client: FlaskClient, data: bytes, filename: str) -> str:
    """Upload through ``POST /api/images`` and return the new image's name."""
    response = client.post(
        "/api/images",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    name: str = response.get_json()["name"]
    assert response.headers["Location"].endswith(f"/api/images/{name}")
    return name


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def upload_via_form(client: FlaskClient, data: bytes, filename: str) -> str:
    """Upload through the page's form, CSRF token included; return the image's name."""
    page = client.get("/")
    assert page.status_code == 200
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, "the upload form carries no csrf_token"
    response = client.post(
        "/",
        data={"csrf_token": match.group(1), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    slug = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert slug.endswith("Kitty")
    return slug.removesuffix("Kitty")


def assert_ready_with_variants(
    resource: Mapping[str, Any], sizes: Mapping[str, tuple[int, int]]
) -> None:
    """The image is ready and each variant URL serves the image the API describes.

    Fetched with plain HTTP, as a browser's ``<img>`` would: status, Content-Type and
    Cache-Control from S3, and the pixel size Pillow reads from the bytes.
    """
    assert resource["status"] == "ready", resource
    assert resource["error"] is None
    variants = resource["variants"]
    assert sorted(variants) == sorted(VARIANT_KINDS)
    for kind, variant in variants.items():
        response = requests.get(variant["url"], timeout=10)
        assert response.status_code == 200, (kind, response.text[:300])
        assert response.headers["Content-Type"] == variant["content_type"], kind
        assert response.headers.get("Cache-Control") == VARIANT_CACHE_CONTROL, kind
        with PILImage.open(io.BytesIO(response.content)) as picture:
            assert picture.size == (variant["width"], variant["height"]) == sizes[kind], kind
            assert picture.get_format_mimetype() == variant["content_type"], kind
        assert len(response.content) == variant["bytes"], kind
