"""Security headers on every answer, a CSP the pages fit, and a Secure cookie behind HTTPS."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from handlers.resize import handler
from kitteh.config import Settings
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from tests.support.lambda_events import make_s3_event


@pytest.fixture
def app(settings: Settings, storage: Storage, database: str) -> Flask:
    # As in production: CSRF on, errors answered rather than raised.
    return create_app(settings, storage)


def csp_of(response: object) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def upload_and_process(client: FlaskClient, settings: Settings, photo: bytes) -> dict:  # type: ignore[type-arg]
    created = client.post(
        "/api/images",
        data={"file": (io.BytesIO(photo), "cat.jpg")},
        content_type="multipart/form-data",
    ).get_json()
    listing = client.application.extensions["kitteh.storage"].client.list_objects_v2(
        Bucket=settings.bucket
    )
    keys = [item["Key"] for item in listing["Contents"]]
    handler(make_s3_event(settings.bucket, *keys), LambdaContext())
    resource: dict = client.get(f"/api/images/{created['name']}").get_json()  # type: ignore[type-arg]
    return resource


PATHS = [
    "/",
    "/api/images",
    "/healthz",
    "/NoSuchNameKitty",
    "/api/images/NoSuchName",
    "/static/app.css",
    "/img/NoSuchName/original",
    "/api/images?limit=0",
]


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    response.close()  # a static file's answer holds the file open
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert response.headers.get("X-Frame-Options") == "DENY", path
    assert response.headers.get("Referrer-Policy") == "same-origin", path
    csp = csp_of(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def test_the_policy_lets_in_exactly_the_media_and_upload_origins(
    client: FlaskClient, settings: Settings, photo: bytes
) -> None:
    # GIVEN a ready image (variant URLs) and a grant (the presigned POST's URL)
    resource = upload_and_process(client, settings, photo)
    grant = client.post(
        "/api/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}
    ).get_json()

    csp = csp_of(client.get("/"))

    # THEN images may come from here, data: URIs and where the variant URLs point
    media = {origin(v["url"]) for v in resource["variants"].values()}
    assert set(csp["img-src"]) == {"'self'", "data:", *media}
    # AND scripts may fetch from here and POST to where the grant points, nowhere else
    assert set(csp["connect-src"]) == {"'self'", origin(grant["url"])}


def test_media_base_url_is_the_image_origin(
    settings: Settings, storage: Storage, database: str
) -> None:
    from dataclasses import replace

    cdn = replace(settings, media_base_url="https://media.example.org/kitteh/")
    app = create_app(cdn, Storage(cdn, client=storage.client))
    csp = csp_of(app.test_client().get("/"))
    assert set(csp["img-src"]) == {"'self'", "data:", "https://media.example.org"}


def test_session_cookie_is_secure_over_https(client: FlaskClient) -> None:
    response = client.get("/", base_url="https://kitteh.example")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_session_cookie_over_plain_http_is_not_marked_secure(client: FlaskClient) -> None:
    # A browser would drop a Secure cookie on http://127.0.0.1 and the form would break.
    response = client.get("/")
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize(("trusted", "secure"), [("1", True), ("0", False)])
def test_forwarded_proto_is_honoured_only_from_a_trusted_proxy(
    settings: Settings,
    storage: Storage,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    trusted: str,
    secure: bool,
) -> None:
    # GIVEN the app behind a TLS-terminating proxy that says so in X-Forwarded-Proto
    monkeypatch.setenv("KITTEH_TRUSTED_PROXIES", trusted)
    behind_proxy = Settings.from_env()
    app = create_app(behind_proxy, Storage(behind_proxy, storage.client))
    response = app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert ("Secure" in response.headers["Set-Cookie"]) is secure
