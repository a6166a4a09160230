"""The one rule for whether an image is rendered: ``kitteh.processing.needs_render``."""

from __future__ import annotations

import pytest

from kitteh import imaging
from kitteh.processing import needs_render
from models import Image, ImageStatus

TODAY = imaging.RECIPE
OLD = "monstrous600 large300 tiny90 | jpeg quality=85"

PENDING, READY, FAILED = ImageStatus.PENDING, ImageStatus.READY, ImageStatus.FAILED


@pytest.mark.parametrize(
    ("status", "recipe", "settled_from", "etag", "force", "render"),
    [
        # Never settled: rendered, whatever storage holds or was asked
        (PENDING, None, None, "abc", False, True),
        (PENDING, None, None, None, False, True),
        # Settled from the object storage holds: left, unless made by another recipe
        (READY, TODAY, "abc", "abc", False, False),
        (READY, OLD, "abc", "abc", False, True),
        (READY, None, "abc", "abc", False, True),
        (FAILED, None, "abc", "abc", False, False),
        # Settled before ETags were kept: nothing to compare, the recipe decides
        (READY, TODAY, None, "abc", False, False),
        (READY, OLD, None, "abc", False, True),
        # Storage not asked (etag None): the recipe decides
        (READY, TODAY, "abc", None, False, False),
        (READY, OLD, "abc", None, False, True),
        (FAILED, None, "abc", None, False, False),
        # Another object than the one it was settled from: rendered, that is refused
        (READY, TODAY, "abc", "xyz", False, True),
        (FAILED, None, "abc", "xyz", False, True),
        # Forced: always
        (READY, TODAY, "abc", "abc", True, True),
        (FAILED, None, "abc", None, True, True),
    ],
)
def test_needs_render(
    status: ImageStatus,
    recipe: str | None,
    settled_from: str | None,
    etag: str | None,
    force: bool,
    render: bool,
) -> None:
    image = Image(name="TestKitty", status=status, recipe=recipe, original_etag=settled_from)
    assert needs_render(image, etag, force) is render
