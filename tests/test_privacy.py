"""Originals are never served with location or device metadata, nor before they are verified.

The stored original stays as uploaded (for reprocessing); what ``/img/<name>/original``
hands out is the same picture with its metadata segments removed, losslessly: the
pixels are the uploaded ones, bit for bit, and the EXIF orientation is kept.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageOps

from handlers.resize import handler
from kitteh.config import Settings
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from tests.support.lambda_events import make_s3_event
from tests.support.pictures import assert_upright, private_metadata_in, with_private_metadata


def upload(client: FlaskClient, data: bytes, filename: str) -> str:
    # Werkzeug's client closes the request body (spooled to a file past 500 KB) with
    # the answer only on its follow_redirects path.
    with client.post(
        "/api/images",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        follow_redirects=True,
    ) as response:
        assert response.status_code == 201, response.get_json()
        name: str = response.get_json()["name"]
    return name


def process_everything(storage: Storage) -> None:
    settings = storage.settings
    keys = [o["Key"] for o in storage.client.list_objects_v2(Bucket=settings.bucket)["Contents"]]
    handler(make_s3_event(settings.bucket, *keys), LambdaContext())


def download(storage: Storage, url: str) -> tuple[bytes, dict[str, list[str]]]:
    """Fetch a presigned GET through the client (moto answers no plain HTTP)."""
    parts = urlsplit(url)
    bucket = parts.netloc.split(".s3", 1)[0]
    key = unquote(parts.path.lstrip("/"))
    body = storage.client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body, parse_qs(parts.query)


@pytest.mark.parametrize(
    ("image_format", "orientation"),
    # A HEIC's turn is the container's (irot/imir), applied as libheif decodes it.
    [("JPEG", 6), ("PNG", 6), ("WEBP", 6), ("HEIF", 1), ("AVIF", 6)],
)
def test_the_original_is_served_without_location_or_device_metadata(
    client: FlaskClient, storage: Storage, photo: bytes, image_format: str, orientation: int
) -> None:
    # GIVEN a photo carrying GPS, a camera serial, its owner's name and XMP
    private = with_private_metadata(photo, image_format)
    assert private_metadata_in(private)
    name = upload(client, private, f"holiday.{image_format.lower()}")
    process_everything(storage)

    # WHEN anyone who knows its name downloads the original
    response = client.get(f"/img/{name}/original")
    assert response.status_code == 302
    served, query = download(storage, response.headers["Location"])

    # THEN none of it is in the file ...
    assert private_metadata_in(served) == []
    # ... which is still the uploaded picture, pixel for pixel, and stands upright
    with Image.open(io.BytesIO(served)) as clean, Image.open(io.BytesIO(private)) as uploaded:
        assert clean.format == uploaded.format
        assert clean.getexif().get(0x0112, 1) == orientation
        assert clean.tobytes() == uploaded.tobytes()
    # (as a browser shows it: turned by its EXIF orientation)
    assert_upright(ImageOps.exif_transpose(Image.open(io.BytesIO(served))), photo)
    # AND it is still offered as a download under the name it was uploaded with
    disposition = query["response-content-disposition"][0]
    assert f'filename="holiday.{image_format.lower()}"' in disposition


def test_the_stored_original_stays_as_uploaded(
    client: FlaskClient, storage: Storage, settings: Settings, photo: bytes
) -> None:
    private = with_private_metadata(photo, "JPEG")
    upload(client, private, "holiday.jpg")
    process_everything(storage)
    [stored] = storage.client.list_objects_v2(Bucket=settings.bucket)["Contents"]
    body = storage.client.get_object(Bucket=settings.bucket, Key=stored["Key"])["Body"].read()
    assert body == private


def test_an_original_is_not_served_before_it_is_verified(client: FlaskClient, photo: bytes) -> None:
    # A pending image's bytes have been checked by nobody yet (a presigned POST may
    # have put anything there); a failed one's are not a picture we can vouch for.
    name = upload(client, with_private_metadata(photo, "JPEG"), "holiday.jpg")
    assert client.get(f"/img/{name}/original").status_code == 404
