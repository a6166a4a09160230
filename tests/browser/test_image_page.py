"""The image page in a real browser: copy buttons, delete, the 404 and failed pages, screenshots.

Screenshots of the home page, an image page and a failed page at 1280 and 360 CSS px
(and the 404 page, and the image page in dark mode) are written to
``build/screenshots/``, which CI prints; at each width the page must not scroll
sideways, and the header and headings must fit.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS, assert_no_csp_violations, new_context
from tests.browser.helpers import (
    LANDSCAPE,
    LANDSCAPE_SIZES,
    LARGE,
    PORTRAIT,
    api_upload,
    choose_files,
    expect_ready_with_variants,
    open_image_page,
)
from tests.conftest import PHOTOS

pytestmark = pytest.mark.browser

WIDTHS = (1280, 360)


@pytest.fixture(scope="package")
def ready_image(embedded_url: str) -> dict[str, Any]:
    """A ready image made through the API (no browser holds its token)."""
    image = api_upload(embedded_url, LANDSCAPE)
    assert image["status"] == "ready", image
    return image


@pytest.fixture(scope="package")
def gallery(embedded_url: str) -> list[str]:
    """A few more ready images, so that the home page's screenshot shows a gallery."""
    names = []
    for path in (PORTRAIT, LARGE.parent / "small.jpg", PHOTOS / "exif-Landscape_3.jpg"):
        image = api_upload(embedded_url, path)
        assert image["status"] == "ready", image
        names.append(image["name"])
    return names


@pytest.fixture(scope="package")
def failed_image(embedded_url: str) -> dict[str, Any]:
    """A truncated JPEG: past the upload's checks, but it cannot be decoded."""
    image = api_upload(embedded_url, PORTRAIT, data=PORTRAIT.read_bytes()[:6000])
    assert image["status"] == "failed", image
    return image


def test_copy_buttons_put_the_right_text_on_the_clipboard(
    page: Page, app_url: str, ready_image: dict[str, Any]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    name = ready_image["name"]
    open_image_page(page, name)
    page_link = f"{app_url}/{name}Kitty"
    direct = {kind: f"{app_url}/img/{name}/{kind}" for kind in ("monstrous", "large", "tiny")}
    expected = {
        "Page link": page_link,
        "Monstrous 600 link": direct["monstrous"],
        "Large 300 link": direct["large"],
        "Tiny 90 link": direct["tiny"],
        "Markdown": f"[![{name}]({direct['large']})]({page_link})",
        "HTML": f'<a href="{page_link}"><img src="{direct["large"]}" alt="{name}"'
        ' width="300" height="200"></a>',
    }

    for label, text in expected.items():
        row = page.locator(".copy-row", has=page.get_by_text(label, exact=True))
        button = row.locator("button.copy")  # its name changes, to "Copied"
        expect(button).to_have_text("Copy")
        button.click()
        expect(button).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == text, label

    # The direct links last: each leads to its size, whatever the presigned URLs do.
    for kind, url in direct.items():
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
        assert urlsplit(response.url).path.endswith(f"/{kind}.jpg")  # redirected to the object
    # Shared links get a preview: the Large size at its lasting address.
    og_image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert og_image == direct["large"]


def test_the_uploaders_browser_deletes_with_its_token(
    page: Page, app_url: str, browser: Browser
) -> None:
    name = choose_files(page, LANDSCAPE)[LANDSCAPE.name]
    token = page.evaluate(f"localStorage.getItem('kitteh:delete-token:{name}')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token or ""), token

    # Another browser, without the token, sees no Delete, and a guessed token does nothing.
    stranger = new_context(browser, app_url)
    try:
        other = stranger.new_page()
        open_image_page(other, name)
        expect(other.locator(".delete-start")).to_be_hidden()
        refused = other.evaluate(
            """async (url) => (await fetch(url, {
                 method: "DELETE", headers: { Authorization: "Bearer not-the-token" } })).status""",
            f"/api/images/{name}",
        )
        assert refused == 403
        assert_no_csp_violations(other)
    finally:
        stranger.close()
    assert requests.get(f"{app_url}/api/images/{name}", timeout=10).json()["status"] == "ready"

    # The uploader's browser: Delete, a second thought, then for good.
    open_image_page(page, name)
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Keep it").click()
    expect(page.get_by_role("button", name="Delete…")).to_be_visible()
    page.get_by_role("button", name="Delete…").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as answered:
        page.get_by_role("button", name="Delete for good").click()
    assert answered.value.status == 204
    expect(page.locator(".delete-status")).to_contain_text(f"{name} is deleted")
    expect(page.locator("img[data-variant]")).to_have_count(0)
    expect(page.get_by_role("link", name="Upload another picture")).to_be_visible()
    assert page.evaluate(f"localStorage.getItem('kitteh:delete-token:{name}')") is None

    assert requests.get(f"{app_url}/api/images/{name}", timeout=10).status_code == 404
    assert requests.get(f"{app_url}/img/{name}/large", timeout=10).status_code == 404
    gone = page.goto(f"/{name}Kitty")
    assert gone is not None and gone.status == 404


def test_a_wrong_token_in_the_browser_deletes_nothing_and_says_why(
    page: Page, app_url: str, ready_image: dict[str, Any]
) -> None:
    name = ready_image["name"]
    page.goto("/")
    page.evaluate(f"localStorage.setItem('kitteh:delete-token:{name}', 'a-stale-token')")
    open_image_page(page, name)
    page.get_by_role("button", name="Delete…").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as answered:
        page.get_by_role("button", name="Delete for good").click()

    assert answered.value.status == 403
    expect(page.locator(".delete-status")).to_contain_text("cannot delete it")
    expect_ready_with_variants(page, LANDSCAPE_SIZES)
    assert page.evaluate(f"localStorage.getItem('kitteh:delete-token:{name}')") is None
    assert requests.get(f"{app_url}/api/images/{name}", timeout=10).json()["status"] == "ready"


def test_the_404_page_is_styled_and_says_what_to_do(page: Page) -> None:
    response = page.goto("/NoSuchNameKitty")
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("No kitty here")
    expect(page.locator(".error-page")).to_contain_text("check the address")
    back = page.get_by_role("link", name="Back to the kitties")
    expect(back).to_have_class(re.compile(r"\bbutton\b"))
    # The stylesheet applies: the code is big and in the accent colour.
    size = page.locator(".error-code").evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 48
    back.click()
    page.wait_for_url(re.compile(r"/#gallery$"))
    # JSON stays JSON under /api.
    api = page.request.get("/api/images/NoSuchName")
    assert api.status == 404 and api.headers["content-type"] == "application/json"


def test_the_failed_page_says_what_happened_and_what_to_do_next(
    page: Page, failed_image: dict[str, Any]
) -> None:
    open_image_page(page, failed_image["name"])
    failed = page.locator(".failed")
    expect(failed).to_be_visible()
    expect(failed.get_by_role("heading")).to_have_text("This upload could not be processed")
    expect(failed).to_contain_text("truncated")
    expect(failed).to_contain_text(
        "Try again with another picture: JPEG, PNG, WebP, GIF, HEIC, HEIF or AVIF"
    )
    expect(page.locator(".share")).to_have_count(0)  # nothing to share
    failed.get_by_role("link", name="Upload another picture").click()
    page.wait_for_url(re.compile(r"/#upload$"))
    expect(page.get_by_role("heading", name="Upload cat pictures")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_and_the_layout_fits(
    browser: Browser,
    app_url: str,
    width: int,
    ready_image: dict[str, Any],
    failed_image: dict[str, Any],
    gallery: list[str],
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "home": "/",
        "image": f"/{ready_image['name']}Kitty",
        "failed": f"/{failed_image['name']}Kitty",
        "404": "/NoSuchNameKitty",
    }
    for scheme in ("light", "dark"):
        context = new_context(
            browser, app_url, viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        try:
            page = context.new_page()
            # The uploader's view of the image page: with Delete.
            page.goto("/")
            page.evaluate(
                "([name, token]) => localStorage.setItem(`kitteh:delete-token:${name}`, token)",
                [ready_image["name"], ready_image["delete_token"]],
            )
            for label, path in pages.items():
                if scheme == "dark" and label not in {"home", "image"}:
                    continue
                page.goto(path)
                if label == "image":
                    expect(page.get_by_role("button", name="Delete…")).to_be_visible()
                shoot(page, f"{label}-{width}" + ("-dark" if scheme == "dark" else ""))
                assert_fits(page, width, label)
            assert_no_csp_violations(page)
        finally:
            context.close()


#: Loads every picture now (the gallery's are lazy). Not wait_for_function: its
#: predicate is compiled with eval, which the page's CSP rightly refuses.
LOAD_ALL_IMAGES = """async () => {
  await Promise.all(Array.from(document.images, (image) => {
    image.loading = "eager";
    return image.decode().catch(() => null);
  }));
}"""


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot once every picture has loaded."""
    page.evaluate(LOAD_ALL_IMAGES)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def assert_fits(page: Page, width: int, label: str) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{label} scrolls sideways at {width} px: {scroll_width} px wide"
    for selector in ("header.site .brand", "header.site .tagline", "h1"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None, f"{label}: no {selector}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{label}: {selector} {box}"
