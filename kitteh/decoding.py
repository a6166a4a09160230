"""Open an original within bounds, identify it, and decode it: what it is, never what it becomes.

Every original is recognised from its bytes (never its name) against the formats of
:mod:`kitteh.formats`, and refused before any pixel is decoded when its header says it
would take more than the pixel limit. Decoding is as cheap as the largest variant
allows: JPEGs are decoded at reduced size (``Image.draft``: libjpeg scales by 1/2, 1/4
or 1/8 inside the DCT), which has to happen before anything loads the pixels, so it
comes before EXIF orientation. HEIC/HEIF support (pi-heif) is loaded only when an
original is one.

Bytes in memory only: nothing here knows S3, databases, Flask or Lambda.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from kitteh import formats
from kitteh.config import DEFAULT_MAX_PIXELS
from kitteh.metadata import ORIENTATION_TAG

#: The ISO-BMFF brands of HEIF files (ftyp, bytes 8-12), as pi-heif recognises them.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
#: EXIF orientations 5–8 turn the picture by 90°, swapping width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})

#: What Pillow raises on bytes it cannot read: a corrupt or truncated image.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


class ImageError(ValueError):
    """The bytes are not an image we can use; retrying cannot help."""

    #: HTTP status an upload endpoint answers with.
    status_code = 422

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAnImage(ImageError):
    status_code = 415


class UnsupportedFormat(ImageError):
    status_code = 415


class TooManyPixels(ImageError):
    status_code = 413


class CorruptImage(ImageError):
    status_code = 422


@dataclass(frozen=True)
class ImageInfo:
    """What the header of an original says, before any pixel is decoded."""

    content_type: str
    #: Upright size, after EXIF orientation.
    width: int
    height: int
    #: The EXIF orientation (1 to 8; 1 when there is none).
    orientation: int = 1


def inspect(source: bytes | IO[bytes], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Identify an original from its header alone.

    :raise NotAnImage: the bytes are empty or not an image at all.
    :raise UnsupportedFormat: an image, but not one of :mod:`kitteh.formats`.
    :raise TooManyPixels: decoding it would take more than ``max_pixels`` pixels.
    """
    with open_bounded(source, max_pixels) as image:
        width, height = upright_size(image)
        orientation = _orientation(image)
        return ImageInfo(
            _content_type(image),
            width,
            height,
            orientation if 1 <= orientation <= 8 else 1,
        )


@contextmanager
def open_bounded(source: bytes | IO[bytes], max_pixels: int) -> Iterator[Image.Image]:
    """Open an original (its header only) for as long as the block lasts.

    :raise ImageError: as :func:`inspect`, or :class:`CorruptImage` for an unreadable header.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    if _is_empty(stream):
        raise NotAnImage("the file is empty")
    _read_heif_if_it_is(stream)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice its limit; we refuse.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise TooManyPixels(f"the image has too many pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImage("the file is not an image") from exc
    except DECODE_ERRORS as exc:
        raise CorruptImage(f"the image header is corrupt ({exc})") from exc
    with image:
        if image.format not in formats.BY_PILLOW_FORMAT:
            raise UnsupportedFormat(
                f"{image.format} images are not supported; use JPEG, PNG, WebP, GIF, HEIC or AVIF"
            )
        width, height = image.size
        if width * height > max_pixels:
            raise TooManyPixels(
                f"the image is {width}x{height} pixels; the limit is {max_pixels:,} pixels"
            )
        yield image


def _content_type(image: Image.Image) -> str:
    found = formats.BY_PILLOW_FORMAT[image.format or ""]
    if found is formats.HEIF:
        # libheif's word, from the brand: image/heic for HEVC-coded files (iPhones).
        mimetype = getattr(image, "custom_mimetype", None)
        named = (formats.HEIC.content_type, formats.HEIF.content_type)
        return mimetype if mimetype in named else found.content_type
    return found.content_type


def _is_empty(stream: IO[bytes]) -> bool:
    position = stream.tell()
    empty = not stream.read(1)
    stream.seek(position)
    return empty


def _read_heif_if_it_is(stream: IO[bytes]) -> None:
    """Teach Pillow HEIF when an original is one: pi-heif's import is 20 ms of a cold start."""
    position = stream.tell()
    head = stream.read(12)
    stream.seek(position)
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        _register_heif()


@lru_cache(maxsize=1)
def _register_heif() -> None:
    """HEIC/HEIF originals (iPhones) through pi-heif.

    pi-heif is pillow-heif built without its HEVC encoder: 1.2 MB of package instead
    of 4.9. libheif applies the container's turn (irot/imir) and pi-heif sets the
    EXIF orientation to 1, so nothing is turned twice. Thumbnails, depth maps and
    auxiliary images are never used: not read.
    """
    import pi_heif

    pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ORIENTATION_TAG, 1))
    except DECODE_ERRORS:
        return 1  # unreadable EXIF must not make a good picture unusable


def upright_size(image: Image.Image) -> tuple[int, int]:
    """The picture's width and height as it is shown, after its EXIF orientation."""
    width, height = image.size
    if _orientation(image) in _TRANSPOSING_ORIENTATIONS:
        return height, width
    return width, height


def decode(image: Image.Image, upright: tuple[int, int], largest: tuple[int, int]) -> Image.Image:
    """Decode the first frame of an opened original, as little of it as ``largest`` needs, upright.

    ``upright`` is its :func:`upright_size`; ``largest`` the size of the largest rendition.

    :raise DECODE_ERRORS: truncated or corrupt pixel data (the caller says so).
    """
    if image.format in formats.JPEG.pillow_formats:
        needed = largest
        if upright != image.size:  # draft works in stored orientation
            needed = (largest[1], largest[0])
        width, height = image.size
        # libjpeg's 1/8 scale keeps only each block's DC term (an 8x8 box average):
        # too blurry unless at least 2x of real resampling follows. Else stop at 1/4.
        if min(width // needed[0], height // needed[1]) < 16:
            needed = (max(needed[0], width // 4), max(needed[1], height // 4))
        image.draft(image.mode, needed)
    image.seek(0)  # the first frame of an animation
    image.load()
    ImageOps.exif_transpose(image, in_place=True)  # no full-size copy
    return image
