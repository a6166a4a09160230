"""Delete tokens: shown once to the uploader, kept as a hash, and the only key to DELETE."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from handlers.resize import handler
from kitteh import processing, tokens
from kitteh.config import Settings
from kitteh.db import transaction
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import make_s3_event
from tests.support.uploads import grant_key


def upload(client: FlaskClient, data: bytes, filename: str = "cat.jpg") -> dict[str, Any]:
    response = client.post(
        "/api/images",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return dict(response.get_json())


def original_key(settings: Settings, name: str) -> str:
    with transaction(settings.database_url) as session:
        return session.scalars(select(Image.original_key).where(Image.name == name)).one()


def make_ready(settings: Settings, name: str) -> str:
    key = original_key(settings, name)
    handler(make_s3_event(settings.bucket, key), LambdaContext())
    return key


def keys(storage: Storage, bucket: str, prefix: str = "") -> list[str]:
    listing = storage.client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def delete(client: FlaskClient, name: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.delete(f"/api/images/{name}", headers=headers)


@pytest.fixture
def ready(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> dict[str, Any]:
    """A ready image, with one more variant format beside the JPEGs (as WebP/AVIF will be)."""
    created = upload(client, photo)
    key = make_ready(settings, created["name"])
    variants_prefix = storage.variant_prefix(key)
    storage.put_variant(f"{variants_prefix}large.avif", b"avif bytes", "image/avif")
    created["original_key"] = key
    created["variants_prefix"] = variants_prefix
    return created


def test_upload_answers_carry_a_token_that_is_shown_once_and_stored_hashed(
    client: FlaskClient, settings: Settings, photo: bytes
) -> None:
    created = upload(client, photo)
    token = created["delete_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)

    granted = client.post(
        "/api/uploads", json={"filename": "big.jpg", "content_type": "image/jpeg", "size": 10}
    )
    assert granted.status_code == 201
    assert granted.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", granted.get_json()["delete_token"])
    assert granted.get_json()["delete_token"] != token

    # Never shown again: not in the resource, not in the listing.
    assert "delete_token" not in client.get(f"/api/images/{created['name']}").get_json()
    listing = client.get("/api/images").text
    assert token not in listing and "delete_token" not in listing
    # The database keeps its SHA-256, not the token.
    with transaction(settings.database_url) as session:
        image = session.scalars(select(Image).where(Image.name == created["name"])).one()
        assert image.delete_token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(
            [getattr(image, c.key) for c in Image.__table__.columns]  # type: ignore[attr-defined]
        )


def test_delete_with_the_token_removes_the_original_every_variant_and_the_row(
    client: FlaskClient,
    settings: Settings,
    storage: Storage,
    photo: bytes,
    ready: dict[str, Any],
) -> None:
    other = upload(client, photo)
    other_key = make_ready(settings, other["name"])
    variants_bucket = settings.variants_bucket_name
    ours = keys(storage, variants_bucket, ready["variants_prefix"])
    assert {key.rsplit(".", 1)[1] for key in ours} >= {"jpg", "avif"} and len(ours) >= 6
    # the original as served (metadata stripped) lives under the same prefix
    assert f"{ready['variants_prefix']}original.jpg" in ours
    assert client.get(f"/img/{ready['name']}/original").status_code == 302
    theirs = keys(storage, variants_bucket, storage.variant_prefix(other_key))

    response = delete(client, ready["name"].lower(), ready["delete_token"])  # any case

    assert response.status_code == 204
    assert response.data == b""
    assert keys(storage, variants_bucket, ready["variants_prefix"]) == []
    assert ready["original_key"] not in keys(storage, settings.bucket)
    assert client.get(f"/api/images/{ready['name']}").status_code == 404
    assert client.get(f"/{ready['name']}Kitty").status_code == 404
    assert client.get(f"/img/{ready['name']}/large").status_code == 404
    assert client.get(f"/img/{ready['name']}/original").status_code == 404
    # The other image is untouched.
    assert client.get(f"/api/images/{other['name']}").get_json()["status"] == "ready"
    assert other_key in keys(storage, settings.bucket)
    assert keys(storage, variants_bucket, storage.variant_prefix(other_key)) == theirs


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer ",
        "Bearer not-the-token",
        "Basic dXNlcjpwYXNz",
        "not-the-token",
    ],
    ids=["missing", "empty", "wrong", "basic", "no-scheme"],
)
def test_without_the_right_token_it_is_a_403_and_nothing_is_removed(
    client: FlaskClient,
    settings: Settings,
    storage: Storage,
    ready: dict[str, Any],
    authorization: str | None,
) -> None:
    before = keys(storage, settings.bucket), keys(storage, settings.variants_bucket_name)
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = client.delete(f"/api/images/{ready['name']}", headers=headers)

    assert response.status_code == 403
    assert "token" in response.get_json()["error"]
    assert (keys(storage, settings.bucket), keys(storage, settings.variants_bucket_name)) == before
    assert client.get(f"/api/images/{ready['name']}").get_json()["status"] == "ready"


def test_another_images_token_does_not_delete(
    client: FlaskClient, photo: bytes, ready: dict[str, Any]
) -> None:
    other = upload(client, photo)
    assert delete(client, ready["name"], other["delete_token"]).status_code == 403
    assert client.get(f"/api/images/{ready['name']}").status_code == 200


def test_deleting_twice_is_harmless_the_second_call_is_a_404(
    client: FlaskClient, photo: bytes, ready: dict[str, Any]
) -> None:
    other = upload(client, photo)
    assert delete(client, ready["name"], ready["delete_token"]).status_code == 204

    again = delete(client, ready["name"], ready["delete_token"])

    assert again.status_code == 404
    assert ready["name"] in again.get_json()["error"]
    assert client.get(f"/api/images/{other['name']}").status_code == 200


def test_an_unknown_name_is_a_404(client: FlaskClient) -> None:
    response = delete(client, "NoSuchKitty", "whatever")
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_a_pending_presigned_upload_can_be_deleted(
    client: FlaskClient, settings: Settings, storage: Storage
) -> None:
    grant = client.post(
        "/api/uploads", json={"filename": "later.jpg", "content_type": "image/jpeg", "size": 10}
    ).get_json()
    assert delete(client, grant["name"], grant["delete_token"]).status_code == 204
    assert client.get(f"/api/images/{grant['name']}").status_code == 404


def test_an_image_without_a_token_cannot_be_deleted_through_the_api(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    # Uploaded before delete tokens, or granted by a script without one: no token.
    key = grant_key(storage)
    storage.put_original(key, photo, "image/jpeg")
    handler(make_s3_event(settings.bucket, key), LambdaContext())
    with transaction(settings.database_url) as session:
        name = session.scalars(select(Image.name).where(Image.original_key == key)).one()

    for token in ("", "None", "null"):
        assert delete(client, name, token).status_code == 403
    assert client.get(f"/api/images/{name}").status_code == 200


def test_a_storage_failure_keeps_the_row_so_that_the_same_call_can_finish_the_job(
    settings: Settings, storage: Storage, database: str, ready: dict[str, Any]
) -> None:
    from app import create_app

    def refuse(**_kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    # Not TESTING: the app answers the error as in production, instead of raising it.
    client = create_app(settings, storage).test_client()
    storage.client.meta.events.register("before-call.s3.DeleteObjects", refuse)
    try:
        failed = delete(client, ready["name"], ready["delete_token"])
    finally:
        storage.client.meta.events.unregister("before-call.s3.DeleteObjects", refuse)

    assert failed.status_code >= 500
    assert failed.get_json()["error"]
    assert client.get(f"/api/images/{ready['name']}").status_code == 200
    assert ready["original_key"] in keys(storage, settings.bucket)

    assert delete(client, ready["name"], ready["delete_token"]).status_code == 204
    assert keys(storage, settings.variants_bucket_name, ready["variants_prefix"]) == []
    assert ready["original_key"] not in keys(storage, settings.bucket)


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    token = tokens.new_delete_token()
    stored = tokens.hash_delete_token(token)
    compared: list[tuple[str, str]] = []
    real = tokens.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    assert tokens.delete_token_matches(stored, token)
    assert not tokens.delete_token_matches(stored, token[:-1])
    assert compared == [(stored, stored), (stored, tokens.hash_delete_token(token[:-1]))]
    assert not tokens.delete_token_matches(None, token)
    assert not tokens.delete_token_matches(stored, None)
    assert tokens.new_delete_token() != token


def test_the_form_hands_the_token_to_the_image_page_once(app: Flask, photo: bytes) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    posted = client.post(
        "/", data={"file": (io.BytesIO(photo), "cat.jpg")}, content_type="multipart/form-data"
    )
    assert posted.status_code == 303
    page_path = posted.headers["Location"]

    first = client.get(page_path)
    match = re.search(r'data-delete-token="([A-Za-z0-9_-]{43})"', first.text)
    assert match, "the page should hand the token to its script"
    assert "no-store" in first.headers["Cache-Control"]
    again = client.get(page_path)
    assert "data-delete-token" not in again.text
    assert match.group(1) not in again.text

    name = page_path.removeprefix("/").removesuffix("Kitty")
    assert delete(client, name, match.group(1)).status_code == 204


def test_operators_delete_without_a_token(
    settings: Settings, storage: Storage, ready: dict[str, Any]
) -> None:
    from app import create_app

    runner = create_app(test_config={"TESTING": True}).test_cli_runner()
    result = runner.invoke(args=["kitteh", "delete", ready["name"].upper()])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"deleted {ready['name']}"
    assert keys(storage, settings.variants_bucket_name, ready["variants_prefix"]) == []

    missing = runner.invoke(args=["kitteh", "delete", ready["name"]])
    assert missing.exit_code == 1
    assert f"no image is named {ready['name']}" in missing.output


def test_an_image_deleted_while_its_event_is_processed_leaves_nothing_behind(
    client: FlaskClient,
    settings: Settings,
    storage: Storage,
    photo: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an upload whose uploader deletes it while the resize function is rendering it
    created = upload(client, photo)
    key = original_key(settings, created["name"])
    judge = processing._judge

    def judge_then_delete(*args: Any, **kwargs: Any) -> Any:
        verdict = judge(*args, **kwargs)  # variants and the served original written
        assert delete(client, created["name"], created["delete_token"]).status_code == 204
        return verdict

    monkeypatch.setattr(processing, "_judge", judge_then_delete)

    # WHEN the rendering ends
    [outcome] = handler(make_s3_event(settings.bucket, key), LambdaContext())["processed"]

    # THEN what it wrote after the delete is removed too: no image, no object is left
    assert outcome["status"] == "ignored"
    assert keys(storage, settings.variants_bucket_name) == []
    assert keys(storage, settings.bucket) == []
    assert client.get(f"/api/images/{created['name']}").status_code == 404
