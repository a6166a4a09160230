"""What a test can say of a picture beyond its size: is it the photo, and upright?

A variant can have the right size and still be wrong: turned the wrong way, mirrored,
or squashed into the upright box without being turned (the size comes from the EXIF
orientation even when the pixels ignore it). Comparing with each of those mistakes,
not only with the right answer, says which one a wrong picture is.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

#: Compared at this size, in grey: enough to tell a turn, cheap, blind to JPEG noise.
_BOX = 48


def orientation_distances(shown: Image.Image, original: Path | bytes) -> dict[str, float]:
    """Mean grey-level distance (0-255) of ``shown`` to the upright photo and to its mistakes."""
    stored = Image.open(io.BytesIO(original) if isinstance(original, bytes) else original)
    upright = ImageOps.exif_transpose(stored)
    candidates = {
        "upright": upright,
        "upside down": upright.rotate(180),
        "mirrored": ImageOps.mirror(upright),
        "flipped": ImageOps.flip(upright),
    }
    if stored.getexif().get(0x0112, 1) != 1:
        # The stored pixels stretched to the upright size: orientation ignored.
        candidates["not turned"] = stored.convert("RGB").resize(upright.size)
    size = (_BOX, round(_BOX * shown.height / shown.width))
    seen = shown.convert("L").resize(size)
    distances = {}
    for label, candidate in candidates.items():
        difference = ImageChops.difference(seen, candidate.convert("L").resize(size))
        histogram = difference.histogram()
        distances[label] = sum(i * n for i, n in enumerate(histogram)) / (size[0] * size[1])
    return distances


def assert_upright(
    shown: Image.Image | bytes, original: Path | bytes, tolerance: float = 10
) -> None:
    """Assert that ``shown`` is the ``original`` photo standing upright."""
    picture = Image.open(io.BytesIO(shown)) if isinstance(shown, bytes) else shown
    distances = orientation_distances(picture, original)
    closest = min(distances, key=distances.__getitem__)
    assert closest == "upright" and distances["upright"] < tolerance, distances


def iphone_heic(photo: Path | bytes, quality: int = 60) -> bytes:
    """The photo as an iPhone stores it: a HEIC of the sensor's pixels, turned by ``irot``.

    An iPhone writes the pixels as the sensor saw them and records the turn in the HEIF
    container (``irot``/``imir``), which decoders apply; its EXIF orientation only repeats
    it. ``pillow_heif`` (the encoding build of the library; tests only) writes the same
    from a JPEG's pixels and EXIF.
    """
    import pillow_heif

    stored = Image.open(io.BytesIO(photo) if isinstance(photo, bytes) else photo)
    exif = stored.info.get("exif")
    pixels = stored.copy()
    pixels.info = {}
    buffer = io.BytesIO()
    pillow_heif.from_pillow(pixels).save(buffer, quality=quality, exif=exif)
    return buffer.getvalue()
