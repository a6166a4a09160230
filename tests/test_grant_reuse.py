"""A presigned grant used more than once: the image never shows one picture and serves another.

S3 cannot refuse a second POST with the same policy, so the resize function judges by
what storage holds: the object's ETag. The picture the variants were made from is
the one recorded; a replaced original (a second post of the grant, or anything
written over it) is refused, and the image fails with the reason, its variants and
its download withdrawn: nothing served can disagree, and a file that is not a
picture is never served as one. A repeated event for the unchanged object is
harmless.
"""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from PIL import Image as PILImage

from handlers.resize import handler
from kitteh.reprocess import Result, reprocess_one
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from tests.conftest import PHOTOS
from tests.support.lambda_events import make_s3_event
from tests.support.uploads import grant_key, images_in

CONTEXT = LambdaContext()


def post(storage: Storage, key: str, data: bytes) -> None:
    """What a browser's POST with the grant does: write the object at the granted key."""
    storage.client.put_object(
        Bucket=storage.settings.bucket, Key=key, Body=data, ContentType="image/jpeg"
    )


def deliver(storage: Storage, key: str) -> dict:  # type: ignore[type-arg]
    [outcome] = handler(make_s3_event(storage.settings.bucket, key), CONTEXT)["processed"]
    return outcome  # type: ignore[no-any-return]


def variant_objects(storage: Storage) -> list[str]:
    listed = storage.client.list_objects_v2(Bucket=storage.settings.variants_bucket_name)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_repeated_event_for_the_same_object_changes_nothing(
    ready_storage: Storage, photo: bytes
) -> None:
    key = grant_key(ready_storage)
    post(ready_storage, key, photo)
    assert deliver(ready_storage, key)["status"] == "ready"
    # The same bytes posted again (a browser retrying a POST whose answer it lost)
    post(ready_storage, key, photo)
    assert deliver(ready_storage, key)["status"] == "ready"


@pytest.mark.parametrize(
    "second",
    [
        pytest.param((PHOTOS / "exif-Portrait_0.jpg").read_bytes(), id="another-picture"),
        pytest.param(b"<html><script>alert(1)</script></html>", id="html"),
    ],
)
def test_a_second_post_of_a_grant_is_refused_and_nothing_disagrees(
    ready_storage: Storage, client: FlaskClient, photo: bytes, second: bytes
) -> None:
    # GIVEN an image made ready from the first post of its grant
    key = grant_key(ready_storage)
    post(ready_storage, key, photo)
    first = deliver(ready_storage, key)
    assert first["status"] == "ready"

    # WHEN the grant is used again with other bytes
    post(ready_storage, key, second)
    again = deliver(ready_storage, key)

    # THEN the image is refused, saying why ...
    assert again["status"] == "failed", again
    assert "replaced" in again["error"]
    resource = client.get(f"/api/images/{first['name']}").get_json()
    assert resource["status"] == "failed" and resource["variants"] == {}
    # ... no variant of the first picture is left to show ...
    assert variant_objects(ready_storage) == []
    for kind in ("tiny", "large", "monstrous"):
        assert client.get(f"/img/{first['name']}/{kind}").status_code == 404
    # ... and the replaced original is not served, as image/jpeg or otherwise
    assert client.get(f"/img/{first['name']}/original").status_code == 404


def test_a_replacement_before_the_first_event_is_what_gets_processed(
    ready_storage: Storage, client: FlaskClient, photo: bytes
) -> None:
    # Two posts before any event: the variants are made from what storage holds.
    portrait = (PHOTOS / "exif-Portrait_0.jpg").read_bytes()
    key = grant_key(ready_storage)
    post(ready_storage, key, photo)
    post(ready_storage, key, portrait)

    first, second = deliver(ready_storage, key), deliver(ready_storage, key)

    assert first["status"] == second["status"] == "ready"
    resource = client.get(f"/api/images/{first['name']}").get_json()
    assert (resource["width"], resource["height"]) == (1200, 1800)  # the portrait
    [image] = images_in(ready_storage.settings)
    monstrous = image.variant("monstrous")
    assert monstrous is not None
    body = ready_storage.client.get_object(
        Bucket=ready_storage.settings.variants_bucket_name, Key=monstrous.key
    )["Body"].read()
    assert PILImage.open(io.BytesIO(body)).size == (400, 600)


def test_reprocessing_leaves_a_refused_image_refused(
    ready_storage: Storage, client: FlaskClient, photo: bytes
) -> None:
    # GIVEN an image refused because its grant was posted twice with another picture
    key = grant_key(ready_storage)
    post(ready_storage, key, photo)
    name = deliver(ready_storage, key)["name"]
    post(ready_storage, key, (PHOTOS / "exif-Portrait_0.jpg").read_bytes())
    assert deliver(ready_storage, key)["status"] == "failed"
    [image] = images_in(ready_storage.settings)

    # WHEN `flask kitteh reprocess --failed` (or --force) renders it again
    outcome = reprocess_one(ready_storage, image.id, force=True)

    # THEN it stays refused: nothing made from the second picture is shown or served
    assert outcome.result == Result.FAILED and "replaced" in (outcome.detail or "")
    assert variant_objects(ready_storage) == []
    assert client.get(f"/img/{name}/large").status_code == 404
    assert client.get(f"/img/{name}/original").status_code == 404
