"""API Gateway (REST, v1 proxy) events through the packaged app, as Zappa deploys it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kitteh.migrate import head_revision
from tests.package.apigw import HOST, STAGE, multipart, response_body, rest_event
from tests.package.container import LambdaContainer, stage_environment
from tests.package.zappa_config import ROOT

pytestmark = [pytest.mark.package, pytest.mark.postgres, pytest.mark.localstack]

#: Static files a browser gets as bytes; binary_support must hand them over base64.
BINARY_SUFFIXES = (".ico", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2")


def _json(response: dict[str, Any]) -> Any:
    return json.loads(response_body(response))


def upload(web: LambdaContainer, photo: bytes, filename: str = "cat.jpg") -> dict[str, Any]:
    """POST a photo to /api/images the way a script or the browser's fetch does."""
    body, content_type = multipart("file", filename, photo, "image/jpeg")
    response = web.invoke(
        rest_event("POST", "/api/images", headers={"Content-Type": content_type}, body=body)
    )
    assert response["statusCode"] == 201, response
    return response


def test_healthz_reports_the_schema_through_remote_env_settings(
    web: LambdaContainer, dev_config: dict[str, Any], task_root: Path
) -> None:
    # GIVEN a container whose DATABASE_URL and SECRET_KEY exist only in the S3
    # object named by remote_env
    assert not {"DATABASE_URL", "SECRET_KEY"} & set(stage_environment("dev", dev_config, task_root))
    # WHEN API Gateway forwards GET /healthz
    response = web.invoke(rest_event("GET", "/healthz"))
    # THEN the app found its database, migrated by the package itself
    assert response["statusCode"] == 200, response
    assert _json(response) == {"status": "ok", "schema": head_revision()}
    assert not response.get("isBase64Encoded")
    assert response["headers"]["Content-Type"] == "application/json"


def test_list_images_answers_json(web: LambdaContainer) -> None:
    response = web.invoke(rest_event("GET", "/api/images", query={"limit": "5"}))
    assert response["statusCode"] == 200, response
    assert set(_json(response)) == {"items", "next"}


def test_multipart_upload_with_a_base64_body_and_its_page(
    web: LambdaContainer, photo: bytes
) -> None:
    # WHEN a real photo arrives base64 encoded, as binary_support makes API Gateway send it
    response = upload(web, photo, "garden cat.jpg")
    image = _json(response)
    # THEN it is stored and named, and URLs carry the stage API Gateway serves it under
    assert image["original_filename"] == "garden cat.jpg"
    assert image["status"] in {"pending", "processing"}
    base = f"https://{HOST}/{STAGE}"
    assert response["headers"]["Location"] == f"{base}/api/images/{image['name']}"
    assert image["page_url"] == f"{base}/{image['name']}Kitty"

    # AND its page renders as HTML text, not base64
    page = web.invoke(rest_event("GET", f"/{image['name']}Kitty"))
    assert page["statusCode"] == 200, page
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert not page.get("isBase64Encoded")
    assert image["name"] in page["body"]


def test_text_static_files_stay_text(web: LambdaContainer) -> None:
    response = web.invoke(rest_event("GET", "/static/app.css"))
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"].startswith("text/css")
    assert not response.get("isBase64Encoded")
    assert response_body(response) == (ROOT / "static" / "app.css").read_bytes()


@pytest.mark.parametrize(
    ("path", "name"), [("/static/favicon.png", "favicon.png"), ("/favicon.ico", "favicon.ico")]
)
def test_binary_static_files_come_back_base64(web: LambdaContainer, path: str, name: str) -> None:
    response = web.invoke(rest_event("GET", path))
    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    assert response_body(response) == (ROOT / "static" / name).read_bytes()


def test_logs_are_json_at_info_without_bodies(web: LambdaContainer, photo: bytes) -> None:
    upload(web, photo)
    log = web.log()
    # log_level INFO: Zappa's DEBUG dump of each event (the whole upload) is off.
    assert "Zappa Event" not in log
    assert base64.b64encode(photo)[:80].decode() not in log
    assert any(line.startswith('{"level": "INFO"') for line in log.splitlines())


def test_behind_api_gateway_https_the_cookie_is_secure_and_pages_carry_the_policy(
    web: LambdaContainer,
) -> None:
    # GIVEN API Gateway's event for an HTTPS request (X-Forwarded-Proto: https)
    response = web.invoke(rest_event("GET", "/"))

    # THEN Zappa's WSGI request is HTTPS, so the session cookie is Secure ...
    assert response["statusCode"] == 200, response
    headers = {k.lower(): v for k, v in response["headers"].items()}
    cookies = [
        cookie
        for name, values in response.get("multiValueHeaders", {}).items()
        if name.lower() == "set-cookie"
        for cookie in values
    ] or [headers["set-cookie"]]
    assert all("Secure" in cookie and "HttpOnly" in cookie for cookie in cookies), cookies
    # ... and the security headers made it through Zappa's response mapping
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["strict-transport-security"].startswith("max-age=")
