"""HTML pages: the upload form (with CSRF), image pages, media redirects, health."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from handlers.resize import handler
from kitteh.config import Settings
from kitteh.migrate import head_revision
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from tests.support.lambda_events import make_s3_event
from tests.support.uploads import grant_key


@pytest.fixture
def app(settings: Settings, storage: Storage, database: str) -> Flask:
    # CSRF stays on here: the form is what it protects.
    return create_app(settings, storage)


def csrf_token(client: FlaskClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match
    return match.group(1)


def upload(client: FlaskClient, data: bytes, filename: str = "cat.jpg", token: str | None = None):  # type: ignore[no-untyped-def]
    form = {"file": (io.BytesIO(data), filename)}
    if token is not None:
        form["csrf_token"] = token  # type: ignore[assignment]
    return client.post("/", data=form, content_type="multipart/form-data")


def process_all(settings: Settings, storage: Storage) -> None:
    """Deliver an event for every original in the bucket, as S3 would."""
    listing = storage.client.list_objects_v2(Bucket=settings.bucket)
    keys = [obj["Key"] for obj in listing.get("Contents", [])]
    handler(make_s3_event(settings.bucket, *keys), LambdaContext())


def test_form_upload_redirects_to_the_image_page(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    response = upload(client, photo, token=csrf_token(client))
    assert response.status_code == 303
    page_path = urlparse(response.headers["Location"]).path
    assert re.fullmatch(r"/[A-Z][A-Za-z]+Kitty", page_path)

    pending = client.get(page_path)
    assert pending.status_code == 200
    assert "Processing" in pending.text
    assert 'data-status="pending"' in pending.text

    process_all(settings, storage)
    ready = client.get(page_path).text
    for kind in ("tiny", "large", "monstrous"):
        assert f'data-variant="{kind}"' in ready
    name = page_path[1 : -len("Kitty")]
    gallery = client.get("/").text
    assert name in gallery


def test_image_page_offers_avif_and_webp_before_the_fallback(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    page_path = urlparse(upload(client, photo, token=csrf_token(client)).headers["Location"]).path
    process_all(settings, storage)
    html = client.get(page_path).text

    pictures = re.findall(r"<picture>(.*?)</picture>", html, re.S)
    kinds = [re.search(r'data-variant="(\w+)"', picture)[1] for picture in pictures]
    assert sorted(kinds) == ["large", "monstrous", "tiny"]
    for picture, kind in zip(pictures, kinds, strict=True):
        types = re.findall(r'<source type="([^"]+)" srcset="([^"]+)"', picture)
        assert types[0][0] == "image/avif" and f"/{kind}.avif?" in types[0][1], picture
        assert [t for t, _ in types] in (["image/avif"], ["image/avif", "image/webp"])
        # then the <img> that every browser shows, and that the page's tests find
        assert re.search(rf'<img data-variant="{kind}" src="[^"]+/{kind}\.jpg\?', picture)
        assert picture.index("<source") < picture.index("<img")


def test_picture_macro_offers_several_sizes_by_width(
    app: Flask, client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    # The gallery's tile: 300 or 600 px by the screen, in the best format the browser takes
    from kitteh.db import transaction
    from kitteh.gallery import get_image

    page_path = urlparse(upload(client, photo, token=csrf_token(client)).headers["Location"]).path
    process_all(settings, storage)
    with transaction(settings.database_url) as session, app.test_request_context():
        image = get_image(session, page_path[1 : -len("Kitty")])
        html = app.jinja_env.from_string(
            '{% from "macros.html" import picture %}'
            '{{ picture(image, "large", srcset_kinds=("large", "monstrous"), sizes="260px",'
            ' loading="lazy", alt="A cat") }}'
        ).render(image=image)

    avif = re.search(r'<source type="image/avif" srcset="([^"]+)" sizes="260px">', html)
    assert avif, html
    assert re.fullmatch(r"\S+/large\.avif\?\S+ 300w, \S+/monstrous\.avif\?\S+ 600w", avif[1])
    img = re.search(r"<img [^>]+>", html)
    assert img and 'data-variant="large"' in img[0] and 'loading="lazy"' in img[0]
    assert re.search(r'srcset="\S+/large\.jpg\?\S+ 300w, \S+/monstrous\.jpg\?\S+ 600w"', img[0])
    assert 'alt="A cat"' in img[0] and 'width="300" height="200"' in img[0]


def test_form_without_csrf_token_is_refused(client: FlaskClient, photo: bytes) -> None:
    response = upload(client, photo)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert client.get("/api/images").get_json()["items"] == []


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [(b"not a picture at all", 415, "not an image"), (b"", 400, "empty")],
)
def test_form_errors_are_shown_and_nothing_is_stored(
    client: FlaskClient,
    storage: Storage,
    settings: Settings,
    data: bytes,
    status: int,
    message: str,
) -> None:
    response = upload(client, data, "evil.jpg", token=csrf_token(client))
    assert response.status_code == status
    assert message in response.text
    assert "Content" not in storage.client.list_objects_v2(Bucket=settings.bucket)


def test_file_names_are_escaped(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    hostile = '<script>alert("meow")</script>.jpg'
    response = upload(client, photo, hostile, token=csrf_token(client))
    page = client.get(urlparse(response.headers["Location"]).path).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_pending_and_failed_images_stay_out_of_the_gallery(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    upload(client, photo, token=csrf_token(client))
    # A grant whose browser posted junk (S3 checks the policy, not the bytes)
    storage.client.put_object(Bucket=settings.bucket, Key=grant_key(storage), Body=b"junk")
    assert "No kitties yet" in client.get("/").text
    process_all(settings, storage)
    failed = [i for i in client.get("/api/images").get_json()["items"] if i["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["name"] not in client.get("/").text
    failed_page = client.get(f"/{failed[0]['name']}Kitty").text
    assert "could not be processed" in failed_page and "not an image" in failed_page


def test_media_redirects(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes
) -> None:
    created = client.post(
        "/api/images", data={"file": (io.BytesIO(photo), "Tom & Jerry é.jpg")}
    ).get_json()
    name = created["name"]
    assert client.get(f"/img/{name}/large").status_code == 404  # not ready yet
    process_all(settings, storage)

    large = client.get(f"/img/{name}/large")
    assert large.status_code == 302
    location = urlparse(large.headers["Location"])
    assert location.path.endswith("/large.jpg")
    assert "X-Amz-Signature" in parse_qs(location.query)

    original = client.get(f"/img/{name}/original")
    assert original.status_code == 302
    query = parse_qs(urlparse(original.headers["Location"]).query)
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Tom%20%26%20Jerry%20%C3%A9.jpg" in disposition
    assert client.get(f"/img/{name}/huge").status_code == 404
    assert client.get("/img/NoSuchName/large").status_code == 404


def test_other_case_and_plain_name_pages_redirect_to_the_canonical_one(
    client: FlaskClient, photo: bytes
) -> None:
    name = client.post("/api/images", data={"file": (io.BytesIO(photo), "a.jpg")}).get_json()[
        "name"
    ]
    canonical = f"/{name}Kitty"
    assert client.get(canonical).status_code == 200
    for other in (f"/{name}", f"/{name.lower()}kitty", f"/{name.upper()}KITTY", f"/{name}kitty"):
        response = client.get(other)
        assert response.status_code == 301, other
        assert response.headers["Location"] == canonical


def test_unknown_page_is_a_404(client: FlaskClient) -> None:
    response = client.get("/NoSuchNameKitty")
    assert response.status_code == 404
    assert "Back to the kitties" in response.text


def test_healthz_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_healthz_reports_a_schema_that_is_behind(settings: Settings, storage: Storage) -> None:
    # The app never migrates by itself: an empty database is reported, not fixed.
    app = create_app(settings, storage)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    error = response.get_json()["error"]
    # In the doctor's words (its schema check), with both ways to run the migration.
    assert f"the database schema is at revision none (empty), the code needs {head_revision()}" in (
        error
    )
    assert "fix: make migrate here, or make migrate STAGE=<stage> for a deployed stage" in error
    assert "handlers.migrate.handler" in error


def test_healthz_reports_missing_storage(
    settings: Settings, storage: Storage, database: str
) -> None:
    storage.client.delete_bucket(Bucket=settings.variants_bucket_name)
    app = create_app(settings, storage)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "storage" in response.get_json()["error"]


def test_long_names_wrap_between_words(app: Flask) -> None:
    from views.filters import word_breaks

    assert str(word_breaks("SublimeDandelionUkrainianLevkoy")) == (
        "Sublime<wbr>Dandelion<wbr>Ukrainian<wbr>Levkoy"
    )
    assert "<script>" not in str(word_breaks("<script>Alert</script>"))


def test_livez_answers_without_database_or_storage(settings: Settings, storage: Storage) -> None:
    # Zappa's post-deploy check requests it before the migrate step has run.
    storage.client.delete_bucket(Bucket=settings.variants_bucket_name)
    app = create_app(settings, storage)
    response = app.test_client().get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}
