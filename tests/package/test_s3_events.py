"""S3 events that LocalStack emitted for real uploads, routed as on AWS by the package.

On AWS, S3 invokes the dev function through the notification ``make deploy`` sets
(``ops.wiring``), whose id ends in ``:handlers.resize.handler``: Zappa's handler
routes an S3 record by such a ``configurationId``. LocalStack here delivers the
events to a queue instead (its notification id has no ":"), so the tests give each
event the id AWS would send; the bucket carries the dev stage's bucket name.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from models import Image
from ops.wiring import FUNCTION_NOTIFICATION_ID
from tests.package.apigw import multipart, response_body, rest_event
from tests.package.cloud import Cloud
from tests.package.container import LambdaContainer
from tests.support.pictures import iphone_heic
from tests.support.uploads import grant

pytestmark = [pytest.mark.package, pytest.mark.postgres, pytest.mark.localstack]

KINDS = ("large", "monstrous", "tiny")
#: The JPEG every browser takes and the AVIF that always beats it on a photo; WebP only
#: where it came out smaller than the JPEG. Beside them, the original as served
#: (metadata stripped): ``original.<its extension>``.
VARIANTS = {f"{kind}.{ext}" for kind in KINDS for ext in ("jpg", "avif")}
MAYBE = {f"{kind}.webp" for kind in KINDS}


def as_sent_by_the_function_notification(event: dict[str, Any]) -> dict[str, Any]:
    """The event with the configurationId S3 sends for make deploy's notification."""
    event = copy.deepcopy(event)
    for record in event["Records"]:
        record["s3"]["configurationId"] = FUNCTION_NOTIFICATION_ID
    return event


def _original_key(database_url: str, name: str) -> str:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            image = session.scalars(select(Image).where(Image.name == name)).one()
            return image.original_key
    finally:
        engine.dispose()


def _variant_keys(cloud: Cloud, original_key: str) -> list[str]:
    stem = original_key.removeprefix(cloud.settings.originals_prefix)
    prefix = f"{cloud.settings.variants_prefix}{stem}/"
    return [key.removeprefix(prefix) for key in cloud.keys(prefix)]


def test_upload_through_the_api_then_its_s3_event_resizes_it(
    web: LambdaContainer, web_database: str, cloud: Cloud, photo: bytes
) -> None:
    # GIVEN a photo as an iPhone saves it (HEIC), uploaded through the packaged app
    body, content_type = multipart("file", "IMG_0042.HEIC", iphone_heic(photo), "image/heic")
    created = web.invoke(
        rest_event("POST", "/api/images", headers={"Content-Type": content_type}, body=body)
    )
    name = json.loads(response_body(created))["name"]
    key = _original_key(web_database, name)

    # WHEN the event S3 (LocalStack) emitted for it reaches the function
    event = as_sent_by_the_function_notification(cloud.next_event(key))
    result = web.invoke(event)

    # THEN the configurationId chose handlers.resize.handler, which made the three variants,
    # decoding HEIC and encoding AVIF with the package's own libraries
    assert result == {"processed": [{"key": key, "name": name, "status": "ready", "error": None}]}
    made = VARIANTS | {"original.heic"}
    assert made <= set(_variant_keys(cloud, key)) <= made | MAYBE
    shown = json.loads(response_body(web.invoke(rest_event("GET", f"/api/images/{name}"))))
    assert shown["status"] == "ready"
    assert (shown["width"], shown["height"], shown["content_type"]) == (1800, 1200, "image/heic")
    assert sorted(shown["variants"]) == ["large", "monstrous", "tiny"]


def test_granted_object_with_an_awkward_key(
    web: LambdaContainer, web_database: str, cloud: Cloud, photo: bytes
) -> None:
    # GIVEN an original granted and put with boto3 under a key S3 must URL-encode
    key = grant(web_database, f"{cloud.settings.originals_prefix}from a script/chat é+1.jpg")
    cloud.s3.put_object(Bucket=cloud.settings.bucket, Key=key, Body=photo, ContentType="image/jpeg")
    event = as_sent_by_the_function_notification(cloud.next_event(key))
    assert event["Records"][0]["s3"]["object"]["key"] != key  # as S3 sends it: encoded

    # WHEN the package handles LocalStack's event
    (processed,) = web.invoke(event)["processed"]

    # THEN the key was decoded once, the image found and resized
    assert processed["key"] == key
    assert processed["status"] == "ready", processed
    made = VARIANTS | {"original.jpg"}
    assert made <= set(_variant_keys(cloud, key)) <= made | MAYBE


def test_events_of_another_notification_reach_no_function(
    web: LambdaContainer, cloud: Cloud, photo: bytes
) -> None:
    key = f"{cloud.settings.originals_prefix}elsewhere.jpg"
    cloud.s3.put_object(Bucket=cloud.settings.bucket, Key=key, Body=photo)
    event: dict[str, Any] = copy.deepcopy(cloud.next_event(key))
    event["Records"][0]["s3"]["configurationId"] = "someone-elses-notification"

    assert web.invoke(event) is None
    assert "Cannot find a function to process the triggered event." in web.log()
    assert _variant_keys(cloud, key) == []


def test_records_of_another_bucket_are_ignored(
    web: LambdaContainer, cloud: Cloud, photo: bytes
) -> None:
    key = f"{cloud.settings.originals_prefix}other-bucket.jpg"
    cloud.s3.put_object(Bucket=cloud.settings.bucket, Key=key, Body=photo)
    event = as_sent_by_the_function_notification(cloud.next_event(key))
    event["Records"][0]["s3"]["bucket"]["name"] = "someone-elses-bucket"

    (processed,) = web.invoke(event)["processed"]

    assert processed == {"key": key, "status": "ignored", "error": "not an original"}
    assert _variant_keys(cloud, key) == []
