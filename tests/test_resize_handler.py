"""The resize function, called the way Lambda calls it, with real S3 and SQS event JSON."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image as PILImage
from sqlalchemy import select

from handlers.queues import BatchIncomplete
from handlers.resize import handler
from kitteh import formats, gallery, imaging
from kitteh.config import Settings
from kitteh.db import transaction
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import load_event, make_s3_event, make_sqs_event
from tests.support.pictures import assert_upright
from tests.support.uploads import grant_key, put_original

CONTEXT = LambdaContext()


def reload(settings: Settings, name: str) -> Image:
    with transaction(settings.database_url) as session:
        image = gallery.get_image(session, name)
        assert image is not None
        return image


def test_s3_event_makes_three_upright_variants(ready_storage: Storage, photo: bytes) -> None:
    # GIVEN an original stored 1200x1800 whose EXIF orientation turns it on its side
    image = put_original(ready_storage, photo)
    settings = ready_storage.settings

    # WHEN S3 reports it
    result = handler(make_s3_event(settings.bucket, image.original_key), CONTEXT)

    # THEN it is ready, with three upright variants stored with the right headers
    assert result["processed"][0]["status"] == "ready"
    stored = reload(settings, image.name)
    assert stored.status == "ready" and stored.error is None
    assert (stored.width, stored.height, stored.content_type) == (1800, 1200, "image/jpeg")
    sizes = {v.kind: (v.width, v.height) for v in stored.variants}
    assert sizes == {"tiny": (90, 60), "large": (300, 200), "monstrous": (600, 400)}
    for variant in stored.variants:
        obj = ready_storage.client.get_object(Bucket=settings.variants_bucket_name, Key=variant.key)
        assert obj["ContentType"] == "image/jpeg"
        assert "max-age=31536000" in obj["CacheControl"]
        body = obj["Body"].read()
        assert len(body) == variant.bytes
        assert PILImage.open(io.BytesIO(body)).size == (variant.width, variant.height)
        assert variant.key.startswith(settings.variants_prefix)
        assert_upright(body, photo)


def test_running_twice_gives_the_same_result(ready_storage: Storage, photo: bytes) -> None:
    image = put_original(ready_storage, photo)
    event = make_s3_event(ready_storage.settings.bucket, image.original_key)
    handler(event, CONTEXT)
    first = [(v.kind, v.key, v.bytes) for v in reload(ready_storage.settings, image.name).variants]
    handler(event, CONTEXT)
    again = reload(ready_storage.settings, image.name)
    assert again.status == "ready"
    assert [(v.kind, v.key, v.bytes) for v in again.variants] == first


def test_every_variant_is_also_stored_in_modern_formats(
    ready_storage: Storage, photo: bytes
) -> None:
    image = put_original(ready_storage, photo)
    settings = ready_storage.settings
    handler(make_s3_event(settings.bucket, image.original_key), CONTEXT)

    stored = reload(settings, image.name)
    assert stored.recipe == imaging.RECIPE
    stem = image.original_key.removeprefix(settings.originals_prefix)
    for variant in stored.variants:
        # AVIF always beats the JPEG on a photo; each kept format is smaller than it
        assert "image/avif" in {s.content_type for s in variant.sources}, variant.kind
        for source in variant.sources:
            extension = formats.of(source.content_type).extension
            assert source.key == f"{settings.variants_prefix}{stem}/{variant.kind}.{extension}"
            obj = ready_storage.client.get_object(
                Bucket=settings.variants_bucket_name, Key=source.key
            )
            assert obj["ContentType"] == source.content_type
            assert "max-age=31536000" in obj["CacheControl"]
            body = obj["Body"].read()
            assert len(body) == source.bytes < variant.bytes
            assert PILImage.open(io.BytesIO(body)).size == (variant.width, variant.height)
            assert_upright(body, photo)


def test_a_new_recipe_renders_again_and_deletes_what_it_no_longer_makes(
    ready_storage: Storage, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an image rendered in AVIF and a (cheap, so always smaller) WebP
    settings = ready_storage.settings
    cheap_webp = imaging.Encoding("image/webp", "webp", "WEBP", (("quality", 40),))
    monkeypatch.setattr(imaging, "MODERN_ENCODINGS", (imaging.AVIF, cheap_webp))
    monkeypatch.setattr(imaging, "RECIPE", imaging.recipe((imaging.AVIF, cheap_webp)))
    image = put_original(ready_storage, photo)
    event = make_s3_event(settings.bucket, image.original_key)
    handler(event, CONTEXT)
    before = reload(settings, image.name)
    webp_keys = {
        s.key for v in before.variants for s in v.sources if s.content_type == "image/webp"
    }
    assert len(webp_keys) == 3

    # WHEN the recipe drops WebP and the image is processed again
    monkeypatch.setattr(imaging, "MODERN_ENCODINGS", (imaging.AVIF,))
    monkeypatch.setattr(imaging, "RECIPE", imaging.recipe((imaging.AVIF,)))
    handler(event, CONTEXT)

    # THEN only AVIF is left beside each JPEG, in the rows and in the bucket
    after = reload(settings, image.name)
    assert after.recipe == imaging.recipe((imaging.AVIF,))
    assert {s.content_type for v in after.variants for s in v.sources} == {"image/avif"}
    stem = image.original_key.removeprefix(settings.originals_prefix)
    listing = ready_storage.client.list_objects_v2(
        Bucket=settings.variants_bucket_name, Prefix=f"{settings.variants_prefix}{stem}/"
    )
    # (and the original as served, which the recipe does not decide, is still there)
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listing["Contents"]) == [
        "large.avif", "large.jpg", "monstrous.avif", "monstrous.jpg", "original.jpg",
        "tiny.avif", "tiny.jpg",
    ]  # fmt: skip


def test_every_record_of_an_event_is_processed(ready_storage: Storage, photo: bytes) -> None:
    first, second = put_original(ready_storage, photo), put_original(ready_storage, photo)
    event = make_s3_event(ready_storage.settings.bucket, first.original_key, second.original_key)
    result = handler(event, CONTEXT)
    assert [r["status"] for r in result["processed"]] == ["ready", "ready"]


def bmp_bytes() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), "orange").save(buffer, "BMP")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make_body", "reason"),
    [
        (lambda photo: b"just some text, not a picture\n", "not an image"),
        (lambda photo: b"", "empty"),
        (lambda photo: photo[: len(photo) // 3], "truncated or corrupt"),
        (lambda photo: b"BM" + b"\0" * 64, "header is corrupt"),
        (lambda photo: bmp_bytes(), "BMP images are not supported"),
    ],
    ids=["text", "empty", "truncated-jpeg", "broken-bmp-header", "bmp"],
)
def test_unusable_file_fails_with_a_reason(
    ready_storage: Storage, photo: bytes, make_body: Any, reason: str
) -> None:
    # GIVEN bytes posted with a grant, which S3 checks for type and size, not content
    settings = ready_storage.settings
    key = grant_key(ready_storage)
    body = make_body(photo)
    ready_storage.client.put_object(Bucket=settings.bucket, Key=key, Body=body)

    # WHEN the event arrives, the invocation succeeds (a retry cannot help) ...
    result = handler(make_s3_event(settings.bucket, key), CONTEXT)

    # ... and the image is failed with a reason a person can read
    (outcome,) = result["processed"]
    assert outcome["status"] == "failed"
    assert reason in outcome["error"]
    assert reload(settings, outcome["name"]).variants == []


def test_keys_are_url_decoded(ready_storage: Storage, photo: bytes) -> None:
    settings = ready_storage.settings
    key = grant_key(ready_storage, f"{settings.originals_prefix}a cat+friend é.jpg")
    ready_storage.client.put_object(Bucket=settings.bucket, Key=key, Body=photo)
    (outcome,) = handler(make_s3_event(settings.bucket, key), CONTEXT)["processed"]
    assert outcome == {**outcome, "key": key, "status": "ready"}


def test_localstack_event_sample_is_understood(ready_storage: Storage, photo: bytes) -> None:
    # The event LocalStack sent for a real upload (%20-encoded, not +).
    event = load_event("localstack_object_created.json")
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = ready_storage.settings.bucket
    key = grant_key(ready_storage, "originals/some key with spaces+plus-é.jpg")
    ready_storage.client.put_object(Bucket=ready_storage.settings.bucket, Key=key, Body=photo)
    (outcome,) = handler(event, CONTEXT)["processed"]
    assert (outcome["key"], outcome["status"]) == (key, "ready")


def test_test_events_and_variant_keys_are_ignored(ready_storage: Storage) -> None:
    settings = ready_storage.settings
    assert handler(load_event("s3_test_event.json"), CONTEXT) == {"processed": []}
    variant_event = make_s3_event(settings.bucket, f"{settings.variants_prefix}x/tiny.jpg")
    assert handler(variant_event, CONTEXT)["processed"][0]["status"] == "ignored"
    with transaction(settings.database_url) as session:
        assert session.scalars(select(Image)).all() == []


def test_sqs_batch_raises_naming_only_the_failed_messages(
    ready_storage: Storage, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (tests/test_sqs_batches.py plays Lambda's poller against a real queue.)
    settings = ready_storage.settings
    good = put_original(ready_storage, photo)
    event = make_sqs_event(
        make_s3_event(settings.bucket, good.original_key),
        load_event("s3_test_event.json"),
    )
    event["Records"].append({**event["Records"][0], "messageId": "broken", "body": "not json"})
    with pytest.raises(BatchIncomplete) as incomplete:
        handler(event, CONTEXT)
    assert incomplete.value.failed == ["broken"]
    assert reload(settings, good.name).status == "ready"


def test_storage_errors_raise_so_lambda_retries(
    ready_storage: Storage, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = put_original(ready_storage, photo)

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")

    monkeypatch.setattr(Storage, "put_variant", unavailable)
    with pytest.raises(ClientError):
        handler(make_s3_event(ready_storage.settings.bucket, image.original_key), CONTEXT)
    # Nothing half-done was recorded: the retry starts from a clean pending image.
    stored = reload(ready_storage.settings, image.name)
    assert (stored.status, stored.variants) == ("pending", [])


def test_original_over_the_size_limit_fails(
    ready_storage: Storage, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = put_original(ready_storage, photo)
    monkeypatch.setenv("KITTEH_MAX_UPLOAD_BYTES", "1000")
    (outcome,) = handler(make_s3_event(ready_storage.settings.bucket, image.original_key), CONTEXT)[
        "processed"
    ]
    assert outcome["status"] == "failed" and "limit" in outcome["error"]
