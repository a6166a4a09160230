"""Modern formats in a real browser: Chromium takes the AVIF source of each <picture>.

The HTML tests can only say that the sources are listed; whether a browser picks
the AVIF, whether the bucket serves it as image/avif, and whether it decodes to an
upright picture of the right size, only a browser can.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Response

from tests.browser.conftest import assert_no_csp_violations, new_context
from tests.browser.helpers import (
    PORTRAIT,
    choose_files,
    expect_ready_with_variants,
    open_image_page,
)
from tests.support.pictures import assert_upright, iphone_heic

pytestmark = pytest.mark.browser


def test_chromium_picks_the_avif_source_of_each_picture(
    page: Page, browser: Browser, app_url: str, tmp_path: Path
) -> None:
    # GIVEN a photo as an iPhone saves it, uploaded through the upload page
    heic = tmp_path / "IMG_0042.HEIC"
    heic.write_bytes(iphone_heic(PORTRAIT))
    [name] = choose_files(page, heic).values()

    # WHEN a visitor opens its page (a browser of its own: the uploader's has the Tiny JPEG
    # of the upload row in its cache, which it would report again), each size loaded
    visitor = new_context(browser, app_url)
    try:
        viewer = visitor.new_page()
        responses: list[Response] = []
        viewer.on("response", lambda response: responses.append(response))
        open_image_page(viewer, name)
        expect_ready_with_variants(
            viewer, {"monstrous": (400, 600), "large": (200, 300), "tiny": (60, 90)}
        )

        # THEN each <img> shows its picture's first source, the AVIF, served as image/avif
        for kind in ("tiny", "large", "monstrous"):
            picture = viewer.locator(f"picture:has(img[data-variant={kind}])")
            first = picture.locator("source").first
            assert first.get_attribute("type") == "image/avif"
            shown = picture.locator("img").evaluate("(img) => img.currentSrc")
            assert shown == first.get_attribute("srcset"), kind
            assert urlsplit(shown).path.endswith(f"/{kind}.avif"), shown
        served = {urlsplit(r.url).path.rsplit("/", 1)[1]: r for r in responses if ".avif" in r.url}
        assert sorted(served) == ["large.avif", "monstrous.avif", "tiny.avif"]
        assert {r.header_value("content-type") for r in served.values()} == {"image/avif"}
        assert not [r.url for r in responses if urlsplit(r.url).path.endswith((".jpg", ".webp"))]
        # and the decoded AVIF is the photo, upright
        assert_upright(viewer.locator("img[data-variant=monstrous]").screenshot(), PORTRAIT)
        assert_no_csp_violations(viewer)
    finally:
        visitor.close()
