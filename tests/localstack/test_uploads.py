"""Every way an original gets in, end to end: app → LocalStack S3 → SQS → relay → resize."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from flask.testing import FlaskClient
from PIL import Image as PILImage

from kitteh.storage import Storage
from tests.localstack.helpers import (
    LANDSCAPE,
    PORTRAIT,
    assert_ready_with_variants,
    get_resource,
    post_to_s3,
    request_upload,
    upload_via_api,
    upload_via_form,
    wait_for,
    wait_until_processed,
)
from tests.localstack.stack import Stack
from tests.support.pictures import private_metadata_in
from tests.support.uploads import grant_key

pytestmark = [pytest.mark.localstack, pytest.mark.postgres]

#: A space, a plus (S3 events encode spaces as "+", so a literal one is "%2B"), accents
#: and a non-Latin script: the characters that break a handler that decodes keys wrongly.
AWKWARD_NAME = "chat +plus été 猫 #1.jpg"


def test_direct_browser_upload_ends_ready_with_three_served_variants(
    stack: Stack, client: FlaskClient, photos: Path
) -> None:
    # GIVEN a presigned POST granted for a real photo
    photo = (photos / "exif-Landscape_6.jpg").read_bytes()
    grant = request_upload(client, "landscape.jpg", len(photo))

    # WHEN the browser posts the file straight to S3
    response = post_to_s3(grant, photo, filename="landscape.jpg")

    # THEN S3 takes it, the event reaches the resize function and the API shows it ready
    assert response.status_code == 204, response.text
    resource = wait_until_processed(client, grant["name"])
    assert_ready_with_variants(resource, LANDSCAPE)
    assert (resource["width"], resource["height"]) == (1800, 1200)  # EXIF orientation 6
    assert resource["content_type"] == "image/jpeg"
    assert resource["bytes"] == len(photo)
    assert resource["original_filename"] == "landscape.jpg"


@pytest.mark.parametrize(
    ("extra_bytes", "overrides"),
    [
        pytest.param(1, {}, id="larger-than-granted"),
        pytest.param(0, {"Content-Type": "image/png"}, id="other-content-type"),
        pytest.param(0, {"key": f"originals/{uuid.uuid4().hex}"}, id="other-key"),
    ],
)
def test_s3_refuses_a_post_outside_the_presigned_policy(
    stack: Stack,
    client: FlaskClient,
    photos: Path,
    extra_bytes: int,
    overrides: dict[str, str],
) -> None:
    # GIVEN a grant for exactly this photo, as image/jpeg, at the key the server chose
    photo = (photos / "exif-Portrait_0.jpg").read_bytes()
    grant = request_upload(client, "portrait.jpg", len(photo))
    granted_key = grant["fields"]["key"]
    images_before = stack.image_count()

    # WHEN a client stretches one term of the policy
    response = post_to_s3(grant, photo + b"\0" * extra_bytes, **overrides)

    # THEN S3 itself refuses, stores nothing, and no event changes any record
    assert 400 <= response.status_code < 500, response.text
    if extra_bytes:
        # The code upload.js words as "the file is larger than the … limit".
        assert "<Code>EntityTooLarge</Code>" in response.text, response.text
    stack.settle()
    assert not stack.object_exists(granted_key)
    for key in overrides.values():
        assert not stack.object_exists(key)
    assert stack.invoker.for_key(granted_key) == []
    assert stack.image_count() == images_before
    assert get_resource(client, grant["name"])["status"] == "pending"


def test_granted_original_under_an_awkward_key_is_decoded_once_and_processed(
    stack: Stack, client: FlaskClient, photos: Path
) -> None:
    # GIVEN a grant for a key S3 must URL-encode in its event (the app makes hex keys,
    # so the row is made here), and the original put there with boto3
    key = f"originals/{uuid.uuid4().hex[:8]} {AWKWARD_NAME}"
    grant_key(Storage(stack.settings), key, filename=key.rsplit("/", 1)[-1])
    photo = (photos / "exif-Portrait_5.jpg").read_bytes()

    # WHEN it lands in the bucket
    stack.s3.put_object(Bucket=stack.settings.bucket, Key=key, Body=photo, ContentType="image/jpeg")

    # THEN the function gets the object's own key back from the event's encoded one
    [delivery] = wait_for(
        lambda: stack.invoker.for_key(key),
        timeout=30,
        what=lambda: f"{key!r} at the relay (it got {stack.invoker.keys_under('originals/')})",
    )
    assert delivery.error is None, delivery.error
    assert isinstance(delivery.result, dict), delivery.result
    [processed] = delivery.result["processed"]
    assert (processed["key"], processed["status"]) == (key, "ready"), processed
    # AND makes it a ready image whose variants are in the bucket
    image = stack.image_by_key(key)
    assert image is not None
    resource = get_resource(client, image.name)
    assert_ready_with_variants(resource, PORTRAIT)
    assert resource["original_filename"] == key.rsplit("/", 1)[-1]
    for variant in image.variants:
        assert stack.object_exists(variant.key), variant.key


def test_an_object_nobody_was_granted_is_never_adopted(stack: Stack, photos: Path) -> None:
    # GIVEN a picture put straight into the originals prefix (a script, `aws s3 cp`)
    key = f"originals/{uuid.uuid4().hex[:8]} stray.jpg"
    photo = (photos / "exif-Portrait_0.jpg").read_bytes()
    images_before = stack.image_count()

    stack.s3.put_object(Bucket=stack.settings.bucket, Key=key, Body=photo, ContentType="image/jpeg")

    # THEN the function hears of it, answers without error, and makes no image of it
    [delivery] = wait_for(lambda: stack.invoker.for_key(key), timeout=30, what=f"{key!r}")
    assert delivery.error is None, delivery.error
    assert isinstance(delivery.result, dict)
    [processed] = delivery.result["processed"]
    assert processed["status"] == "ignored", processed
    assert stack.image_by_key(key) is None
    assert stack.image_count() == images_before
    assert stack.object_exists(key)  # not ours to delete: its key is not of the app's making


def test_awkward_filename_through_a_presigned_upload_is_kept_as_given(
    stack: Stack, client: FlaskClient, photos: Path
) -> None:
    # GIVEN a grant for a file whose name has spaces, "+", accents and CJK
    photo = (photos / "exif-Landscape_1.jpg").read_bytes()
    grant = request_upload(client, AWKWARD_NAME, len(photo))
    assert grant["original_filename"] == AWKWARD_NAME

    # WHEN the browser posts it under that name
    response = post_to_s3(grant, photo, filename=AWKWARD_NAME)

    # THEN it is ready, the name is unchanged, and the download is offered under it
    assert response.status_code == 204, response.text
    resource = wait_until_processed(client, grant["name"])
    assert_ready_with_variants(resource, LANDSCAPE)
    assert resource["original_filename"] == AWKWARD_NAME
    redirect = client.get(f"/img/{grant['name']}/original")
    assert redirect.status_code == 302
    download = requests.get(redirect.headers["Location"], timeout=10)
    assert download.status_code == 200
    assert private_metadata_in(download.content) == []
    with PILImage.open(io.BytesIO(download.content)) as served:
        assert served.tobytes() == PILImage.open(io.BytesIO(photo)).tobytes()
    disposition = download.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(AWKWARD_NAME, safe='')}" in disposition


def test_form_upload_with_csrf_ends_ready(client: FlaskClient, photos: Path) -> None:
    photo = (photos / "exif-Landscape_3.jpg").read_bytes()

    name = upload_via_form(client, photo, "form.jpg")

    resource = wait_until_processed(client, name)
    assert_ready_with_variants(resource, LANDSCAPE)
    page = client.get(f"/{name}Kitty").get_data(as_text=True)
    for kind in LANDSCAPE:
        assert f'data-variant="{kind}"' in page


def test_api_upload_ends_ready(client: FlaskClient, photos: Path) -> None:
    photo = (photos / "exif-Portrait_0.jpg").read_bytes()

    name = upload_via_api(client, photo, "api.jpg")

    resource = wait_until_processed(client, name)
    assert_ready_with_variants(resource, PORTRAIT)
    assert resource["original_filename"] == "api.jpg"
