"""``flask kitteh reprocess`` and ``flask kitteh stats``: the backfill, and what it leaves."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app import create_app
from handlers.resize import handler
from kitteh import formats, gallery, imaging, processing, uploads
from kitteh.db import get_sessionmaker, transaction
from kitteh.reprocess import Outcome, Result, reprocess, select_images
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import make_s3_event
from tests.support.uploads import grant_key

OLD_IMAGES = 5


@pytest.fixture
def cli_app(storage: Storage, database: str) -> Flask:
    """The app as ``flask --app app`` builds it: from the environment alone."""
    return create_app(test_config={"TESTING": True})


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["kitteh", *args])


def upload(storage: Storage, data: bytes, filename: str = "cat.jpg") -> Image:
    with get_sessionmaker(storage.settings.database_url)() as session:
        return uploads.upload_original(session, storage, stream=io.BytesIO(data), filename=filename)


@pytest.fixture
def old_images(
    storage: Storage, database: str, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Images rendered as before modern formats (JPEG only, no recipe), one failed, one pending."""
    settings = storage.settings
    with monkeypatch.context() as before:
        before.setattr(imaging, "MODERN_ENCODINGS", ())
        made = [upload(storage, photo) for _ in range(OLD_IMAGES)]
        handler(make_s3_event(settings.bucket, *(i.original_key for i in made)), LambdaContext())
    with transaction(settings.database_url) as session:
        session.execute(update(Image).values(recipe=None))
    # A file that was never an image: failed, and stays failed whatever is run
    key = grant_key(storage, filename="notes.txt")
    storage.put_original(key, b"just some notes\n", "text/plain")
    handler(make_s3_event(settings.bucket, key), LambdaContext())
    # An upload still on its way: left to its own event
    with get_sessionmaker(settings.database_url)() as session:
        uploads.create_presigned_upload(
            session, storage, filename="big.jpg", content_type="image/jpeg", size=10_000
        )
    return [image.name for image in made]


def snapshot(storage: Storage) -> dict[str, Any]:
    """Every row and object a run could change, with the rows' update times."""
    settings = storage.settings
    with transaction(settings.database_url) as session:
        rows = sorted(
            (
                image.name,
                image.status,
                image.error,
                image.recipe,
                image.updated_at.isoformat(),
                sorted(
                    (
                        v.kind,
                        v.key,
                        v.bytes,
                        sorted((s.content_type, s.key, s.bytes) for s in v.sources),
                    )
                    for v in image.variants
                ),
            )
            for image in session.query(Image)
        )
    listing = storage.client.list_objects_v2(Bucket=settings.variants_bucket_name)
    objects = sorted((o["Key"], o["ETag"]) for o in listing.get("Contents", []))
    return {"rows": rows, "objects": objects}


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every variant object written from now on."""
    written: list[str] = []
    original = Storage.put_variant

    def put_variant(self: Storage, key: str, data: bytes, content_type: str) -> None:
        written.append(key)
        original(self, key, data, content_type)

    monkeypatch.setattr(Storage, "put_variant", put_variant)
    return written


def test_reprocess_all_gives_every_image_all_formats_and_a_second_run_changes_nothing(
    cli_app: Flask, storage: Storage, old_images: list[str], puts: list[str]
) -> None:
    # WHEN every image is reprocessed, three at a time
    first = invoke(cli_app, "reprocess", "--all", "--jobs", "3")

    # THEN a progress bar counted them all, the failed file said why it failed again,
    # and every image is ready with today's recipe and an AVIF beside each JPEG
    assert first.exit_code == 0, first.output
    assert re.search(rf"reprocess: 100%\|.*\| {OLD_IMAGES + 1}/{OLD_IMAGES + 1} ", first.output)
    assert re.search(r"[A-Z][a-z]+[A-Za-z]+: failed: the file is not an image\n", first.output)
    assert "rendered 5, failed 1, current 0, pending 0, gone 0, error 0" in first.output
    with transaction(storage.settings.database_url) as session:
        for name in old_images:
            image = gallery.get_image(session, name)
            assert image is not None and processing.is_current(image)
            for variant in image.variants:
                assert "image/avif" in {s.content_type for s in variant.sources}, variant
    assert len(puts) >= OLD_IMAGES * 6

    # WHEN it runs again
    before, puts[:] = snapshot(storage), []
    second = invoke(cli_app, "reprocess", "--all")

    # THEN nothing is written, and no row or object changed
    assert second.exit_code == 0, second.output
    assert "rendered 0, failed 1, current 0" in second.output
    assert puts == []
    assert snapshot(storage) == before


def test_an_interrupted_run_resumes_where_it_stopped(
    storage: Storage, old_images: list[str]
) -> None:
    settings = storage.settings
    with transaction(settings.database_url) as session:
        selection = select_images(session, everything=True)
    assert len(selection.images) == OLD_IMAGES + 1

    # GIVEN a run stopped (Ctrl-C) after two images
    seen: list[Outcome] = []

    def stop_after_two(outcome: Outcome) -> None:
        seen.append(outcome)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reprocess(storage, selection.images, jobs=1, on_outcome=stop_after_two)

    # THEN the images in hand were finished (two reported, one more started), no other
    # was begun, and the next run is given only what is left, and finishes it
    with transaction(settings.database_url) as session:
        rest = select_images(session, everything=True)
        done = [
            name for _, name in selection.images if processing.is_current(_image(session, name))
        ]
    assert 2 <= len(done) <= 3
    assert [name for _, name in rest.images] == [
        name for _, name in selection.images if name not in done
    ]
    counts = reprocess(storage, rest.images, jobs=2)
    assert counts[Result.RENDERED] == OLD_IMAGES - len(done)
    assert counts[Result.FAILED] == 1


def test_reprocess_named_or_failed_images(
    cli_app: Flask, storage: Storage, old_images: list[str], puts: list[str]
) -> None:
    # Names in any case: only those are rendered
    named = invoke(cli_app, "reprocess", old_images[0].lower(), old_images[1])
    assert named.exit_code == 0, named.output
    assert "rendered 2, failed 0" in named.output
    assert {key.rsplit("/", 2)[1] for key in puts} == {
        image.original_key.removeprefix(storage.settings.originals_prefix)
        for image in _images(storage, old_images[:2])
    }
    # Again: made by today's recipe already, so not selected; --force renders them anyway
    assert "nothing to do" in invoke(cli_app, "reprocess", old_images[0]).output
    forced = invoke(cli_app, "reprocess", "--force", old_images[0])
    assert "rendered 1," in forced.output
    # --failed: the failed file alone
    assert "rendered 0, failed 1," in invoke(cli_app, "reprocess", "--failed").output


def test_reprocess_refuses_unknown_names_and_unclear_requests(
    cli_app: Flask, old_images: list[str]
) -> None:
    unknown = invoke(cli_app, "reprocess", old_images[0], "NoSuchKitty")
    assert unknown.exit_code == 1
    assert "no image is named NoSuchKitty" in unknown.output
    for args in ((), ("--all", "--failed"), ("--all", old_images[0])):
        unclear = invoke(cli_app, "reprocess", *args)
        assert unclear.exit_code == 2 and "one of the three" in unclear.output


def test_reprocess_reports_storage_errors_and_exits_non_zero(
    cli_app: Flask, storage: Storage, old_images: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def refuse(self: Storage, key: str, data: bytes, content_type: str) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")

    monkeypatch.setattr(Storage, "put_variant", refuse)
    result = invoke(cli_app, "reprocess", old_images[0])
    assert result.exit_code == 1
    assert "error 1" in result.output and "run the same command again" in result.output
    # Nothing was recorded: the image is as it was, and still selected next time
    (image,) = _images(storage, old_images[:1])
    assert image.recipe is None and image.status == "ready"


def test_stats_counts_images_by_status_and_bytes_by_format(
    cli_app: Flask, storage: Storage, old_images: list[str]
) -> None:
    invoke(cli_app, "reprocess", old_images[0])

    result = invoke(cli_app, "stats", "--json")

    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["images_by_status"] == {"pending": 1, "ready": OLD_IMAGES, "failed": 1}
    assert stats["outdated"] == OLD_IMAGES - 1
    by_format = {f["content_type"]: f for f in stats["variants_by_format"]}
    assert by_format["image/jpeg"]["objects"] == OLD_IMAGES * 3
    assert by_format["image/avif"]["objects"] == 3
    listing = storage.client.list_objects_v2(Bucket=storage.settings.variants_bucket_name)
    stored = {}
    for obj in listing["Contents"]:
        if "/original." in obj["Key"]:
            continue  # the originals as served: no variant rows, not in these totals
        extension = obj["Key"].rsplit(".", 1)[1]
        stored[extension] = stored.get(extension, 0) + obj["Size"]
    assert {formats.of(t).extension: f["bytes"] for t, f in by_format.items()} == stored

    text = invoke(cli_app, "stats").output
    assert re.search(r"ready\s+5\b", text) and re.search(r"image/avif\s+3\s", text), text


def _images(storage: Storage, names: list[str]) -> list[Image]:
    with transaction(storage.settings.database_url) as session:
        found = [gallery.get_image(session, name) for name in names]
    return [image for image in found if image is not None]


def _image(session: Any, name: str) -> Image:
    image = gallery.get_image(session, name)
    assert image is not None
    return image


def test_reprocess_remakes_the_original_as_served_and_never_deletes_it(
    cli_app: Flask, storage: Storage, old_images: list[str]
) -> None:
    # GIVEN a ready image whose served original (metadata stripped) has gone missing
    settings = storage.settings
    (image,) = _images(storage, old_images[:1])
    served = storage.public_original_key(image.original_key, "image/jpeg")

    def exists() -> bool:
        listing = storage.client.list_objects_v2(
            Bucket=settings.variants_bucket_name, Prefix=served
        )
        return bool(listing.get("Contents"))

    assert exists()
    storage.delete_variant(served)

    # WHEN it is rendered by a new recipe, which deletes the objects it no longer makes
    assert "rendered 1," in invoke(cli_app, "reprocess", image.name).output

    # THEN the served original is made again with the variants, and downloads
    assert exists()
    assert cli_app.test_client().get(f"/img/{image.name}/original").status_code == 302
    # AND rendering again by force keeps it
    assert "rendered 1," in invoke(cli_app, "reprocess", "--force", image.name).output
    assert exists()
