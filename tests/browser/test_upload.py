"""Uploads in a real browser: what the templates and the JavaScript do, not only the HTTP.

The HTTP-level suites cannot see whether upload.js picks the direct-to-S3 path,
whether the browser's CORS preflight to the bucket passes, whether processing.js
turns a pending page into a ready one, or whether the variants actually load and
show the picture the right way up. These tests drive Chromium through each of
those, against ``python -m localcloud.run`` as ``make run`` starts it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, Request, expect

from tests.conftest import PHOTOS
from tests.pictures import assert_upright

pytestmark = pytest.mark.browser

PORTRAIT = PHOTOS / "exif-Portrait_5.jpg"  # stored 1800x1200, EXIF 5: upright 1200x1800
LARGE = PHOTOS.parent / "bench-images" / "large24.jpg"  # 6.2 MB, 6000x3986, no EXIF turn
#: upload.js sends files over this many bytes straight to S3 (the form's data-direct-threshold).
DIRECT_THRESHOLD = 4 * 1024 * 1024
IMAGE_PAGE = re.compile(r"/([A-Z][A-Za-z]+)Kitty$")
#: Records the image page's status at every page load in sessionStorage, which survives
#: the reload that processing.js makes, so the test can tell a self-refresh happened.
RECORD_STATUSES = """
addEventListener("DOMContentLoaded", () => {
  const article = document.querySelector(".image-page");
  if (!article) return;
  const seen = JSON.parse(sessionStorage.getItem("kittehStatuses") || "[]");
  seen.push(article.dataset.status);
  sessionStorage.setItem("kittehStatuses", JSON.stringify(seen));
});
"""
#: Reports every change of the upload form's <progress> (shown, value) to the test: the
#: upload is over in milliseconds on loopback, too quick to catch by polling the DOM.
WATCH_PROGRESS = """
addEventListener("DOMContentLoaded", () => {
  const bar = document.querySelector("#upload-form progress");
  if (!bar) return;
  new MutationObserver(() => window.kittehProgress(bar.hidden, bar.value))
    .observe(bar, { attributes: true, attributeFilter: ["hidden", "value"] });
});
"""


def upload_through_form(page: Page, path: Path) -> str:
    """Choose ``path`` in the upload form, submit it, and return the image page's name."""
    page.goto("/")
    page.set_input_files("#upload-form input[type=file]", path)
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(IMAGE_PAGE)
    match = IMAGE_PAGE.search(urlsplit(page.url).path)
    assert match, page.url
    return match.group(1)


def expect_ready_with_variants(page: Page, sizes: dict[str, tuple[int, int]]) -> None:
    """Wait (without reloading) for the ready page, and for each variant to load at its size."""
    expect(page.locator(".image-page")).to_have_attribute("data-status", "ready")
    images = page.locator("img[data-variant]")
    expect(images).to_have_count(len(sizes))
    for kind, (width, height) in sizes.items():
        image = page.locator(f"img[data-variant={kind}]")
        natural = image.evaluate(
            "async (img) => { await img.decode(); return [img.naturalWidth, img.naturalHeight]; }"
        )
        assert natural == [width, height], f"{kind}: loaded {natural}, want {width}x{height}"


def statuses_seen(page: Page) -> list[str]:
    return list(page.evaluate("JSON.parse(sessionStorage.getItem('kittehStatuses') || '[]')"))


@pytest.fixture(scope="package")
def uploaded() -> dict[str, list[str]]:
    """Names of the images the tests made ready, per app URL, for the gallery test."""
    return {}


def test_form_upload_becomes_ready_by_itself_and_upright(
    page: Page, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    page.add_init_script(RECORD_STATUSES)
    name = upload_through_form(page, PORTRAIT)

    expect_ready_with_variants(
        page, {"monstrous": (400, 600), "large": (200, 300), "tiny": (60, 90)}
    )
    statuses = statuses_seen(page)
    assert statuses[-1] == "ready"
    if statuses[0] == "pending":  # the usual case: the resize takes longer than a redirect
        assert statuses == ["pending", "ready"], "processing.js should reload exactly once"
    expect(page.locator("h1")).to_have_text(name)

    assert_upright(page.locator("img[data-variant=monstrous]").screenshot(), PORTRAIT)
    uploaded.setdefault(app_url, []).append(name)


@pytest.mark.parametrize(
    "app_url",
    [
        "embedded",
        pytest.param("localstack", marks=[pytest.mark.localstack, pytest.mark.postgres]),
    ],
    indirect=True,
)
def test_large_file_goes_straight_to_s3_with_progress(
    page: Page, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    assert LARGE.stat().st_size > DIRECT_THRESHOLD
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    progress: list[tuple[bool, float]] = []
    page.expose_function("kittehProgress", lambda hidden, value: progress.append((hidden, value)))
    page.add_init_script(WATCH_PROGRESS)
    page.add_init_script(RECORD_STATUSES)

    name = upload_through_form(page, LARGE)

    # /img/<name>/original redirects to the object at the S3 endpoint that browsers reach.
    download = page.request.get(f"/img/{name}/original", max_redirects=0)
    s3_endpoint = urlsplit(download.headers["location"]).netloc
    assert s3_endpoint != urlsplit(app_url).netloc
    s3_posts = [r for r in sent if r.method == "POST" and urlsplit(r.url).netloc == s3_endpoint]
    assert len(s3_posts) == 1, [f"{r.method} {r.url}" for r in sent]
    stored = s3_posts[0].response()
    assert stored is not None and 200 <= stored.status < 300, stored and stored.status
    to_app = [r for r in sent if r.method == "POST" and r.url.startswith(app_url)]
    assert [urlsplit(r.url).path for r in to_app] == ["/api/uploads"]
    assert not any("multipart" in (r.headers.get("content-type") or "") for r in to_app), (
        "the large file went through the app"
    )
    assert any(not hidden for hidden, _ in progress), f"the progress bar was not shown: {progress}"
    assert progress[-1][1] == 100, progress

    expect_ready_with_variants(
        page, {"monstrous": (600, 399), "large": (300, 199), "tiny": (90, 60)}
    )
    assert statuses_seen(page)[-1] == "ready"
    uploaded.setdefault(app_url, []).append(name)


def test_pending_page_polls_and_reloads_itself_once_the_original_arrives(page: Page) -> None:
    """processing.js, deterministically: the page stays pending until the test stores the file.

    The form upload above is usually still pending when its page loads, but a fast
    resize could win that race; a presigned grant whose file has not been sent yet
    cannot.
    """
    data = PORTRAIT.read_bytes()
    grant = page.request.post(
        "/api/uploads",
        data={"filename": "later.jpg", "content_type": "image/jpeg", "size": len(data)},
    )
    assert grant.status == 201, grant.text()
    body = grant.json()
    page.add_init_script(RECORD_STATUSES)
    page.goto(body["page_url"])
    expect(page.locator(".processing")).to_be_visible()
    with page.expect_request(f"**/api/images/{body['name']}"):  # processing.js polls
        pass

    stored = requests.post(body["url"], data=body["fields"], files={"file": data}, timeout=30)
    assert stored.ok, stored.text

    expect_ready_with_variants(
        page, {"monstrous": (400, 600), "large": (200, 300), "tiny": (60, 90)}
    )
    assert statuses_seen(page) == ["pending", "ready"]


def test_gallery_shows_the_uploaded_images(
    page: Page, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    names = uploaded.get(app_url) or []
    if not names:  # run on its own: make one
        names = [upload_through_form(page, PORTRAIT)]
        expect(page.locator(".image-page")).to_have_attribute("data-status", "ready")

    page.goto("/")
    for name in names:
        link = page.locator(f'.grid a[href="/{name}Kitty"]')
        expect(link).to_contain_text(name)
        thumbnail = link.locator("img")
        thumbnail.scroll_into_view_if_needed()  # they are loading="lazy"
        width = thumbnail.evaluate(
            "async (img) => { await img.decode(); return img.naturalWidth; }"
        )
        assert width > 0, f"{name}'s thumbnail did not load"


def test_text_file_named_jpg_gets_a_415_and_the_app_keeps_serving(
    page: Page, tmp_path: Path
) -> None:
    fake = tmp_path / "kitty.jpg"
    fake.write_text("Dear diary, today I am a text file pretending to be a cat.\n")
    page.goto("/")
    page.set_input_files("#upload-form input[type=file]", fake)
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.click("#upload-form button[type=submit]")

    assert answered.value.status == 415
    expect(page.locator(".flash.error")).to_contain_text("not an image")
    expect(page.locator("#upload-form")).to_be_visible()  # the form is back, to try again
    assert page.request.get("/healthz").ok
    again = page.goto("/")
    assert again is not None and again.ok
