"""Uploads in a real browser: what the templates and the JavaScript do, not only the HTTP.

The HTTP-level suites cannot see whether upload.js sends files straight to S3,
whether the browser's CORS preflight to the bucket passes, whether each file's row
shows its progress and then its link, whether processing.js turns a pending page
into a ready one, or whether the variants actually load and show the picture the
right way up. These tests drive Chromium through each of those, against
``python -m localcloud.run`` as ``make run`` starts it, with and without JavaScript.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.browser.conftest import SCREENSHOTS, new_context
from tests.browser.helpers import (
    LANDSCAPE,
    LARGE,
    PORTRAIT,
    PORTRAIT_SIZES,
    choose_files,
    expect_ready_with_variants,
    files_handle,
    open_image_page,
    upload_rows,
)
from tests.support.pictures import assert_upright

pytestmark = pytest.mark.browser

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
#: Reports every change of an upload row's progress bar and percentage to the test: the
#: upload is over in milliseconds on loopback, too quick to catch by polling the DOM.
WATCH_PROGRESS = """
addEventListener("DOMContentLoaded", () => {
  const list = document.querySelector(".upload-list");
  if (!list) return;
  new MutationObserver(() => {
    const bar = list.querySelector("progress");
    const percent = list.querySelector(".row-percent");
    if (bar) window.kittehProgress(bar.value, percent.textContent);
  }).observe(list, { attributes: true, childList: true, characterData: true, subtree: true });
});
"""


def statuses_seen(page: Page) -> list[str]:
    return list(page.evaluate("JSON.parse(sessionStorage.getItem('kittehStatuses') || '[]')"))


@pytest.fixture(scope="package")
def uploaded() -> dict[str, list[str]]:
    """Names of the images the tests made ready, per app URL, for the gallery test."""
    return {}


@pytest.mark.parametrize(
    "app_url",
    [
        "embedded",
        pytest.param("localstack", marks=[pytest.mark.localstack, pytest.mark.postgres]),
    ],
    indirect=True,
)
def test_chosen_file_goes_straight_to_s3_with_progress_then_its_link(
    page: Page, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    # More than a Lambda request could carry once API Gateway has base64-encoded it (6 MB).
    assert LARGE.stat().st_size * 4 / 3 > 6 * 1024 * 1024
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    progress: list[tuple[int, str]] = []
    page.expose_function("kittehProgress", lambda value, text: progress.append((value, text)))
    page.add_init_script(WATCH_PROGRESS)

    name = choose_files(page, LARGE)[LARGE.name]

    # The row links to the page; the file went to the S3 endpoint, never through the app.
    link = page.locator(".upload-row .row-link")
    expect(link).to_have_attribute("href", f"{app_url}/{name}Kitty")
    # /img/<name>/original (served once ready) redirects to the S3 endpoint browsers reach.
    download = page.request.get(f"/img/{name}/original", max_redirects=0)
    s3_endpoint = urlsplit(download.headers["location"]).netloc
    assert s3_endpoint != urlsplit(app_url).netloc
    s3_posts = [r for r in sent if r.method == "POST" and urlsplit(r.url).netloc == s3_endpoint]
    assert len(s3_posts) == 1, [f"{r.method} {r.url}" for r in sent]
    stored = s3_posts[0].response()
    assert stored is not None and 200 <= stored.status < 300, stored and stored.status
    to_app = [r for r in sent if r.method == "POST" and r.url.startswith(app_url)]
    assert [urlsplit(r.url).path for r in to_app] == ["/api/uploads"]
    assert (100, "100%") in progress, f"the row never showed 100%: {progress}"
    # A thumbnail of the Tiny size once ready.
    thumbnail = page.locator(".upload-row .row-thumb img")
    assert thumbnail.evaluate("async (img) => { await img.decode(); return img.naturalWidth; }")

    link.click()
    page.wait_for_url(f"**/{name}Kitty")
    expect_ready_with_variants(
        page, {"monstrous": (600, 399), "large": (300, 199), "tiny": (90, 60)}
    )
    uploaded.setdefault(app_url, []).append(name)


def test_several_files_dropped_at_once_each_reach_ready(
    page: Page, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    page.goto("/")
    picker = page.get_by_role("button", name="Choose pictures", exact=True)  # labelled
    expect(picker).to_have_attribute("multiple", "")
    dropped = files_handle(
        page,
        ("portrait.jpg", "image/jpeg", PORTRAIT.read_bytes()),
        ("landscape.jpg", "image/jpeg", LANDSCAPE.read_bytes()),
        ("small.jpg", "image/jpeg", (LARGE.parent / "small.jpg").read_bytes()),
    )
    zone = page.locator(".dropzone")
    page.dispatch_event(".dropzone", "dragenter", {"dataTransfer": dropped})
    expect(zone).to_have_class(re.compile(r"\bdragging\b"))
    page.dispatch_event(".dropzone", "dragover", {"dataTransfer": dropped})
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": dropped})
    expect(zone).not_to_have_class(re.compile(r"\bdragging\b"))

    names = upload_rows(page, 3)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#upload").screenshot(path=SCREENSHOTS / "uploads-1280.png")

    assert set(names) == {"portrait.jpg", "landscape.jpg", "small.jpg"}
    assert len(set(names.values())) == 3, names
    for file, name in names.items():
        resource = requests.get(f"{app_url}/api/images/{name}", timeout=10).json()
        assert resource["status"] == "ready" and resource["original_filename"] == file
    open_image_page(page, names["portrait.jpg"])
    expect_ready_with_variants(page, PORTRAIT_SIZES)
    assert_upright(page.locator("img[data-variant=monstrous]").screenshot(), PORTRAIT)
    uploaded.setdefault(app_url, []).extend(names.values())


def test_a_pasted_image_uploads(page: Page, app_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page.goto("/")
    # Put a real PNG on the system clipboard, as copying an image in another app does.
    png = (LARGE.parent / "small.jpg").read_bytes()
    page.evaluate(
        """async (data) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
          const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
          canvas.getContext("2d").drawImage(bitmap, 0, 0);
          const png = await canvas.convertToBlob({ type: "image/png" });
          await navigator.clipboard.write([new ClipboardItem({ "image/png": png })]);
        }""",
        base64.b64encode(png).decode(),
    )
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+V")

    names = upload_rows(page, 1)

    ((file, name),) = names.items()
    assert re.fullmatch(r"pasted-[\d-]+\.png", file), file
    resource = requests.get(f"{app_url}/api/images/{name}", timeout=10).json()
    assert (resource["content_type"], resource["status"]) == ("image/png", "ready")


def test_pending_page_polls_and_reloads_itself_once_the_original_arrives(page: Page) -> None:
    """processing.js, deterministically: the page stays pending until the test stores the file.

    A presigned grant whose file has not been sent yet cannot win a race with the resize.
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

    expect_ready_with_variants(page, PORTRAIT_SIZES)
    assert statuses_seen(page) == ["pending", "ready"]


def test_without_javascript_the_form_posts_one_file_and_hands_over_the_delete_token(
    browser: Browser, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    context = new_context(browser, app_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        # The file input has a label: its accessible name.
        picker = page.get_by_role("button", name="Choose a picture", exact=True)
        expect(picker).to_have_attribute("type", "file")
        expect(picker).not_to_have_attribute("multiple", "")
        page.set_input_files("#upload-file", LANDSCAPE)
        page.click("button[type=submit]")
        page.wait_for_url(IMAGE_PAGE)
        found = IMAGE_PAGE.search(urlsplit(page.url).path)
        assert found, page.url
        name = found.group(1)

        # Shown once, in the page's <noscript>, for a reader without a script to keep it.
        token = page.locator("noscript code").first.inner_text()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token
        for _ in range(100):  # no script refreshes the page: the reader reloads it
            if page.locator(".image-page").get_attribute("data-status") != "pending":
                break
            page.wait_for_timeout(200)
            page.reload()
        expect(page.locator(".image-page")).to_have_attribute("data-status", "ready")
        assert page.locator("noscript code").count() == 0  # once only
        assert_upright(page.locator("img[data-variant=monstrous]").screenshot(), LANDSCAPE)
        uploaded.setdefault(app_url, []).append(name)
    finally:
        context.close()


def test_gallery_shows_the_uploaded_images(
    page: Page, app_url: str, uploaded: dict[str, list[str]]
) -> None:
    names = uploaded.get(app_url) or []
    if not names:  # run on its own: make one
        names = list(choose_files(page, PORTRAIT).values())

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


def test_a_text_file_named_jpg_is_refused_at_once_and_sends_nothing(
    page: Page, app_url: str, tmp_path: Path
) -> None:
    fake = tmp_path / "kitty.jpg"
    fake.write_text("Dear diary, today I am a text file pretending to be a cat.\n")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto("/")
    page.set_input_files("#upload-file", fake)

    row = page.locator(".upload-row")
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".row-status")).to_have_text("The file is not an image.")
    expect(row.locator(".row-link")).to_be_hidden()
    assert posts == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jpg", b"", "The file is empty."),
        (
            "notes.pdf",
            b"%PDF-1.7\n",
            "This kind of file is not accepted; use JPEG, PNG, WebP, GIF, HEIC, HEIF or AVIF.",
        ),
    ],
)
def test_client_side_checks_answer_at_once_in_the_servers_words(
    page: Page, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    page.goto("/")
    page.set_input_files("#upload-file", path)
    row = page.locator(".upload-row")
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".row-status")).to_have_text(message)


def test_an_s3_refusal_for_size_is_worded_like_every_other_too_large(page: Page) -> None:
    """The policy's content-length-range refusal: S3's EntityTooLarge, as the browser gets it."""

    def refuse(route: Route) -> None:
        if route.request.method != "POST":  # the CORS preflight goes to S3 as it is
            route.fallback()
            return
        route.fulfill(
            status=400,
            content_type="application/xml",
            headers={"Access-Control-Allow-Origin": "*"},
            body="<?xml version='1.0' encoding='UTF-8'?><Error><Code>EntityTooLarge</Code>"
            "<Message>Your proposed upload exceeds the maximum allowed size</Message></Error>",
        )

    page.goto("/")
    limit_message = page.locator("#upload-form").get_attribute("data-too-large")
    assert limit_message == "the file is larger than the 25 MB limit"
    page.route(re.compile(r"^http://127\.0\.0\.1:\d+/kitteh-images/?$"), refuse)
    page.set_input_files("#upload-file", PORTRAIT)

    row = page.locator(".upload-row")
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".row-status")).to_have_text("The file is larger than the 25 MB limit.")


def test_without_javascript_a_text_file_gets_a_415_and_the_form_back(
    browser: Browser, app_url: str, tmp_path: Path
) -> None:
    fake = tmp_path / "kitty.jpg"
    fake.write_text("Dear diary, today I am a text file pretending to be a cat.\n")
    context = new_context(browser, app_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        page.set_input_files("#upload-file", fake)
        with page.expect_response(lambda r: r.request.method == "POST") as answered:
            page.click("button[type=submit]")
        assert answered.value.status == 415
        expect(page.locator(".notice.error").first).to_contain_text("not an image")
        expect(page.locator("#upload-form")).to_be_visible()  # the form is back, to try again
        assert page.request.get("/healthz").ok
    finally:
        context.close()
