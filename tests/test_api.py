"""The JSON API through Flask's test client, with moto behind it."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image as PILImage
from PIL import ImageFile

from handlers.resize import handler
from kitteh.config import Settings
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from tests.support.lambda_events import make_s3_event
from tests.support.pictures import iphone_heic


def post_file(client: FlaskClient, data: bytes, filename: str = "cat.jpg") -> Any:
    return client.post(
        "/api/images",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def deliver(settings: Settings, name: str, client: FlaskClient) -> dict[str, Any]:
    """Send the object's S3 event to the resize function, as S3 → Lambda would."""
    image = client.get(f"/api/images/{name}").get_json()
    key = storage_key_of(settings, image)
    handler(make_s3_event(settings.bucket, key), LambdaContext())
    return dict(client.get(f"/api/images/{name}").get_json())


def storage_key_of(settings: Settings, resource: dict[str, Any]) -> str:
    from kitteh.db import transaction
    from kitteh.gallery import get_image

    with transaction(settings.database_url) as session:
        image = get_image(session, resource["name"])
        assert image is not None
        return image.original_key


def test_upload_then_event_makes_the_image_ready(
    client: FlaskClient, settings: Settings, photo: bytes
) -> None:
    response = post_file(client, photo, "Mittens on the sofa.jpg")
    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"].endswith(f"/api/images/{created['name']}")
    assert created["status"] == "pending"
    assert created["variants"] == {}
    assert created["original_filename"] == "Mittens on the sofa.jpg"
    assert created["page_url"].endswith(f"/{created['name']}Kitty")

    ready = deliver(settings, created["name"], client)

    assert ready["status"] == "ready"
    assert (ready["width"], ready["height"], ready["bytes"]) == (1800, 1200, len(photo))
    assert ready["content_type"] == "image/jpeg"
    assert {k: (v["width"], v["height"]) for k, v in ready["variants"].items()} == {
        "tiny": (90, 60),
        "large": (300, 200),
        "monstrous": (600, 400),
    }
    assert all(v["url"].startswith("http") for v in ready["variants"].values())


def test_each_variant_lists_its_formats_and_a_lasting_link(
    client: FlaskClient, settings: Settings, photo: bytes
) -> None:
    name = post_file(client, photo).get_json()["name"]
    ready = deliver(settings, name, client)

    for kind, variant in ready["variants"].items():
        sources = variant["sources"]
        # Best first, the fallback every browser takes last, one per format
        types = [source["content_type"] for source in sources]
        assert types[0] == "image/avif" and types[-1] == "image/jpeg", types
        assert types == [t for t in ("image/avif", "image/webp", "image/jpeg") if t in types]
        assert all(set(source) == {"content_type", "url", "bytes"} for source in sources)
        assert sources[-1] == {
            "content_type": variant["content_type"],
            "url": variant["url"],
            "bytes": variant["bytes"],
        }
        assert all(source["bytes"] < variant["bytes"] for source in sources[:-1])
        assert all(".avif?" in s["url"] for s in sources if s["content_type"] == "image/avif")
        # The lasting link redirects to today's (expiring) URL of the fallback
        assert variant["permalink"] == f"http://localhost/img/{name}/{kind}"
        assert client.get(variant["permalink"]).headers["Location"] == variant["url"]


def test_lookup_is_case_insensitive(client: FlaskClient, photo: bytes) -> None:
    name = post_file(client, photo).get_json()["name"]
    assert client.get(f"/api/images/{name.lower()}").get_json()["name"] == name
    assert client.get(f"/api/images/{name.upper()}").status_code == 200


def test_unknown_name_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/images/NoSuchKitty")
    assert response.status_code == 404
    assert "NoSuchKitty" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"hello, I am a text file\n", 415, "not an image"),
        (b"", 400, "empty"),
        (b"GIF87a" + b"\0" * 4, 415, None),
    ],
    ids=["text", "empty", "mangled-gif"],
)
def test_bad_uploads_are_refused_with_json(
    client: FlaskClient, data: bytes, status: int, message: str | None
) -> None:
    response = post_file(client, data, "notes.jpg")
    assert response.status_code in (status, 422)
    error = response.get_json()["error"]
    assert error
    if message:
        assert message in error
    assert client.get("/api/images").get_json()["items"] == []


def test_missing_file_field_is_a_400(client: FlaskClient) -> None:
    response = client.post("/api/images", data={"other": "x"})
    assert response.status_code == 400
    assert "file" in response.get_json()["error"]


def test_over_the_size_limit_is_a_413(
    settings: Settings, storage: Storage, database: str, photo: bytes
) -> None:
    from dataclasses import replace

    from app import create_app

    small = replace(settings, max_upload_bytes=len(photo) // 2)
    app = create_app(small, storage, test_config={"TESTING": True})
    response = post_file(app.test_client(), photo + b"\0" * 100_000)
    assert response.status_code == 413
    assert "limit" in response.get_json()["error"]


def test_kitteh_max_pixels_refuses_an_upload_before_decoding(
    settings: Settings,
    storage: Storage,
    database: str,
    photo: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import create_app

    # GIVEN a deployment that takes at most a million pixels (the photo has 2.16 million)
    monkeypatch.setenv("KITTEH_MAX_PIXELS", "1000000")
    limited = Settings.from_env()
    assert limited.max_pixels == 1_000_000
    app = create_app(
        limited, Storage(limited, client=storage.client), test_config={"TESTING": True}
    )

    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError("a pixel was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)

    # WHEN the photo is uploaded
    response = post_file(app.test_client(), photo)

    # THEN it is refused from its header alone, and nothing is stored or recorded
    assert response.status_code == 413
    assert response.get_json()["error"] == (
        "the image is 1200x1800 pixels; the limit is 1,000,000 pixels"
    )
    assert storage.client.list_objects_v2(Bucket=settings.bucket).get("KeyCount") == 0
    assert app.test_client().get("/api/images").get_json()["items"] == []


def test_webp_is_accepted_end_to_end(client: FlaskClient, settings: Settings, photo: bytes) -> None:
    # GIVEN the photo as a WebP (its EXIF orientation kept: upright it is 1800x1200)
    with PILImage.open(io.BytesIO(photo)) as original:
        buffer = io.BytesIO()
        original.save(buffer, "WEBP", quality=80, exif=original.getexif())
    webp = buffer.getvalue()

    # WHEN it is uploaded and its event delivered
    created = post_file(client, webp, "cat.webp").get_json()
    ready = deliver(settings, created["name"], client)

    # THEN it is recognised from its bytes and made into the usual web sizes
    assert created["content_type"] == "image/webp"
    assert ready["status"] == "ready", ready
    assert (ready["width"], ready["height"]) == (1800, 1200)
    assert {
        k: (v["width"], v["height"], v["content_type"]) for k, v in ready["variants"].items()
    } == {
        "tiny": (90, 60, "image/jpeg"),
        "large": (300, 200, "image/jpeg"),
        "monstrous": (600, 400, "image/jpeg"),
    }


def test_iphone_heic_is_accepted_end_to_end(
    client: FlaskClient, settings: Settings, photo: bytes
) -> None:
    # GIVEN a photo as an iPhone saves it (HEIC, turned by the container)
    heic = iphone_heic(photo)

    # WHEN it is uploaded and its event delivered
    response = post_file(client, heic, "IMG_0042.HEIC")
    assert response.status_code == 201, response.get_json()
    ready = deliver(settings, response.get_json()["name"], client)

    # THEN it is an upright picture in the usual web sizes
    assert (ready["status"], ready["content_type"]) == ("ready", "image/heic"), ready
    assert (ready["width"], ready["height"]) == (1800, 1200)
    assert {k: (v["width"], v["height"]) for k, v in ready["variants"].items()} == {
        "tiny": (90, 60),
        "large": (300, 200),
        "monstrous": (600, 400),
    }


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("IMG_0042.HEIC", "image/heic", "image/heic"),
        ("burst.heif", "image/heif", "image/heif"),
        ("cat.avif", "image/avif", "image/avif"),
        # Browsers on systems that do not know HEIC send no type at all.
        ("IMG_0042.HEIC", "", "image/heic"),
        ("IMG_0042.heic", "application/octet-stream", "image/heic"),
    ],
)
def test_presigned_upload_takes_heic_and_avif(
    client: FlaskClient, filename: str, content_type: str, expected: str
) -> None:
    response = client.post(
        "/api/uploads", json={"filename": filename, "content_type": content_type, "size": 5_000_000}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["fields"]["Content-Type"] == expected


def test_wrong_method_is_json_too(client: FlaskClient) -> None:
    response = client.delete("/api/images")
    assert response.status_code == 405
    assert response.get_json()["error"]


def test_presigned_upload_pins_key_type_and_size(client: FlaskClient, settings: Settings) -> None:
    response = client.post(
        "/api/uploads",
        json={"filename": "big cat.jpg", "content_type": "image/jpeg", "size": 12_000_000},
    )
    assert response.status_code == 201
    grant = response.get_json()
    assert grant["status"] == "pending"
    assert grant["name"] and response.headers["Location"].endswith(grant["name"])
    assert grant["fields"]["key"].startswith(settings.originals_prefix)
    assert "big cat" not in grant["fields"]["key"]
    assert grant["fields"]["Content-Type"] == "image/jpeg"
    assert "policy" in grant["fields"] and grant["url"].startswith("http")
    import base64
    import json

    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    assert ["content-length-range", 1, 12_000_000] in policy["conditions"]
    assert {"key": grant["fields"]["key"]} in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"filename": "a.txt", "content_type": "text/plain", "size": 10}, 415, "not accepted"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10**9}, 413, "limit"),
        ({"filename": "a.jpg", "content_type": "image/jpeg"}, 400, "size"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": "12"}, 400, "size"),
        ({"content_type": "image/jpeg", "size": 12}, 400, "filename"),
        ({"filename": "a.jpg", "size": 12}, 400, "content_type"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 0}, 400, "empty"),
        ([], 400, "JSON object"),
    ],
)
def test_presigned_upload_refuses_bad_requests(
    client: FlaskClient, body: Any, status: int, message: str
) -> None:
    response = client.post("/api/uploads", json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_list_is_newest_first_with_keyset_cursor(client: FlaskClient, photo: bytes) -> None:
    names = [post_file(client, photo).get_json()["name"] for _ in range(5)]
    first = client.get("/api/images?limit=2").get_json()
    second = client.get(f"/api/images?limit=2&cursor={first['next']}").get_json()
    third = client.get(f"/api/images?limit=2&cursor={second['next']}").get_json()
    listed = [i["name"] for page in (first, second, third) for i in page["items"]]
    assert listed == names[::-1]
    assert third["next"] is None


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=500", "limit=abc", "cursor=!!!", "cursor=LTE", "status=bogus"]
)
def test_list_refuses_bad_parameters(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/images?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_unexpected_errors_are_json_500s(
    settings: Settings, storage: Storage, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import create_app
    from kitteh import gallery

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(gallery, "list_images", broken)
    # Not TESTING: Flask would re-raise instead of answering as in production.
    app = create_app(settings, storage)
    response = app.test_client().get("/api/images")
    assert response.status_code == 500
    assert response.get_json() == {"error": "something went wrong on our side; please try again"}
    assert "on fire" not in response.text


def test_variant_urls_are_reused_while_fresh(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = storage.variant_url("variants/abc/large.jpg")
    assert storage.variant_url("variants/abc/large.jpg") == first
    assert storage.variant_url("variants/abc/tiny.jpg") != first
    # Past half their lifetime they are signed afresh, never handed out stale.
    later = time.monotonic() + storage.settings.presign_expiry / 2 + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    monkeypatch.setattr(
        storage.public_client, "generate_presigned_url", lambda *a, **k: "http://resigned"
    )
    assert storage.variant_url("variants/abc/large.jpg") == "http://resigned"
