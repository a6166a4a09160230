"""What the browser tests do again and again: upload through the page, wait for rows and pages."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import JSHandle, Page, expect

from tests.conftest import PHOTOS
from tests.support.running_app import wait_until_processed

PORTRAIT = PHOTOS / "exif-Portrait_5.jpg"  # stored 1800x1200, EXIF 5: upright 1200x1800
LANDSCAPE = PHOTOS / "exif-Landscape_6.jpg"  # stored 1200x1800, EXIF 6: upright 1800x1200
LARGE = PHOTOS.parent / "bench-images" / "large24.jpg"  # 6.2 MB, 6000x3986, no EXIF turn
PORTRAIT_SIZES = {"monstrous": (400, 600), "large": (200, 300), "tiny": (60, 90)}
LANDSCAPE_SIZES = {"monstrous": (600, 400), "large": (300, 200), "tiny": (90, 60)}
#: Long enough for a resize on a busy two-core machine.
SETTLE_MS = 60_000


def upload_rows(page: Page, count: int, state: str = "ready") -> dict[str, str]:
    """Wait for ``count`` upload rows to reach ``state``; return file name → image name."""
    rows = page.locator(".upload-row")
    expect(rows).to_have_count(count)
    names = {}
    for index in range(count):
        row = rows.nth(index)
        expect(row).to_have_attribute("data-state", state, timeout=SETTLE_MS)
        names[row.locator(".row-file").inner_text()] = row.locator(".row-link").inner_text()
    return names


def choose_files(page: Page, *paths: Path) -> dict[str, str]:
    """Choose files in the upload page's picker and wait until each is ready."""
    page.goto("/")
    page.set_input_files("#upload-file", list(paths))
    return upload_rows(page, len(paths))


def open_image_page(page: Page, name: str) -> None:
    response = page.goto(f"/{name}Kitty")
    assert response is not None and response.ok, response and response.status


def expect_ready_with_variants(page: Page, sizes: dict[str, tuple[int, int]]) -> None:
    """Wait (without reloading) for the ready page, and for each variant to load at its size."""
    expect(page.locator(".image-page")).to_have_attribute("data-status", "ready", timeout=SETTLE_MS)
    images = page.locator("img[data-variant]")
    expect(images).to_have_count(len(sizes))
    for kind, (width, height) in sizes.items():
        image = page.locator(f"img[data-variant={kind}]")
        natural = image.evaluate(
            "async (img) => { await img.decode(); return [img.naturalWidth, img.naturalHeight]; }"
        )
        assert natural == [width, height], f"{kind}: loaded {natural}, want {width}x{height}"


def files_handle(page: Page, *files: tuple[str, str, bytes]) -> JSHandle:
    """A DataTransfer holding files (name, type, bytes), as a drop or a paste carries them."""
    payload = [
        {"name": name, "type": kind, "data": base64.b64encode(data).decode()}
        for name, kind, data in files
    ]
    return page.evaluate_handle(
        """(files) => {
          const transfer = new DataTransfer();
          for (const file of files) {
            const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], file.name, { type: file.type }));
          }
          return transfer;
        }""",
        payload,
    )


def api_upload(app_url: str, path: Path | None = None, data: bytes | None = None) -> dict[str, Any]:
    """Upload through the API (not the page) and wait until it is processed."""
    body = data if data is not None else (path or PORTRAIT).read_bytes()
    created = requests.post(
        f"{app_url}/api/images", files={"file": ((path or PORTRAIT).name, body)}, timeout=30
    )
    assert created.status_code == 201, created.text
    resource = created.json()
    settled = wait_until_processed(app_url, resource["name"], timeout=SETTLE_MS / 1000)
    return {**settled, "delete_token": resource["delete_token"]}
