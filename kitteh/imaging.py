"""Turn an uploaded original into Kitteh's three web sizes, with Pillow.

The work is arranged so that one original costs as little as possible on a
Lambda's single vCPU:

* JPEGs are decoded at reduced size, never smaller than the largest variant needs
  (:func:`kitteh.decoding.decode`, which also opens every original within bounds).
* The image is decoded once and the sizes cascade 600 → 300 → 90, each from the
  previous one.
* Colour management runs on the 600 px image, not on millions of pixels.
* Each size is written as a JPEG (a PNG if it has real transparency), the fallback
  every browser shows, and also as AVIF and WebP, kept only where smaller than the
  fallback. Their qualities are calibrated in the bench (``bench/formats.py``) to
  match the JPEG's SSIM on the bench photos, so a smaller file is never a worse one.

Everything here works on bytes in memory and knows nothing about S3, databases,
Flask or Lambda, so the benchmarks time exactly what the handler runs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import AvifImagePlugin, Image, ImageCms, WebPImagePlugin

from kitteh import decoding, formats, metadata
from kitteh.config import DEFAULT_MAX_PIXELS

# Registered here, so that saving WebP or AVIF needs no Image.init(), which imports
# every one of Pillow's plugins (~50 ms of a cold start).
_ENCODER_PLUGINS = (AvifImagePlugin, WebPImagePlugin)

#: Variant kind → the N of its N×N bounding box, largest first: the cascade order.
#: The one definition of the kinds; the models store any of them in ``Variant.kind``.
SIZES: tuple[tuple[str, int], ...] = (("monstrous", 600), ("large", 300), ("tiny", 90))
#: The kinds in display order, smallest first.
VARIANT_KINDS: tuple[str, ...] = tuple(kind for kind, _box in reversed(SIZES))

JPEG_QUALITY = 85
PNG_COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class Encoding:
    """A modern web format and the encoder settings that decide its output."""

    content_type: str
    extension: str
    pillow_format: str
    #: Pillow's save options.
    settings: tuple[tuple[str, int], ...]
    #: The codec's own options (libavif passes them to libaom), as ``advanced``.
    codec_options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        image_format: formats.Format,
        settings: tuple[tuple[str, int], ...],
        codec_options: tuple[tuple[str, str], ...] = (),
    ) -> Encoding:
        """The encoding of a row of :mod:`kitteh.formats`, with these encoder settings."""
        return cls(
            image_format.content_type,
            image_format.extension,
            image_format.pillow_format,
            settings,
            codec_options,
        )

    def describe(self) -> str:
        options = (*self.settings, *self.codec_options)
        return " ".join([self.extension, *(f"{key}={value}" for key, value in options)])


#: Calibrated by ``make bench`` (bench/formats.py, RESULTS.md "Formats"): the lowest
#: quality whose SSIM at 300 px is at least the JPEG's on every bench photo (the noisy
#: phone12.jpg decides). AVIF: libaom at speed 6, tuned for SSIM: 23-29 % fewer bytes
#: than the JPEG on the photos, for 2.5 times the whole JPEG path's time. Speeds 8 and 9
#: take 0.4 and 0.15 of that, but need quality 79, which leaves them 10-16 and 0-14 %
#: under the JPEG.
#: WebP (libwebp, method 4) needs quality 91 there and then outweighs the JPEG on most
#: sizes, so it is served only where it comes out smaller.
AVIF = Encoding.of(formats.AVIF, (("quality", 74), ("speed", 6)), (("tune", "ssim"),))
WEBP = Encoding.of(formats.WEBP, (("quality", 91), ("method", 4)))
#: Best first: the order of a ``<picture>``'s sources and of the API's ``sources``.
MODERN_ENCODINGS: tuple[Encoding, ...] = (AVIF, WEBP)


@dataclass(frozen=True)
class Encoded:
    """One size, encoded in one format."""

    content_type: str
    data: bytes

    @property
    def extension(self) -> str:
        return formats.of(self.content_type).extension


@dataclass(frozen=True)
class Rendition:
    """One encoded variant, ready to be written to storage."""

    kind: str
    width: int
    height: int
    #: The fallback every browser shows: JPEG, or PNG with transparency.
    content_type: str
    data: bytes
    #: The same picture in :data:`MODERN_ENCODINGS`, best first, each smaller than ``data``.
    alternatives: tuple[Encoded, ...] = ()

    @property
    def extension(self) -> str:
        return formats.of(self.content_type).extension


def recipe(encodings: tuple[Encoding, ...] = MODERN_ENCODINGS) -> str:
    """Name everything that decides the variants' pixels and bytes.

    Stored on each image as it is rendered: an image whose recipe differs from
    today's was made with other sizes or settings, and ``flask kitteh reprocess``
    renders it again.
    """
    sizes = " ".join(f"{kind}{box}" for kind, box in SIZES)
    fallback = f"jpeg quality={JPEG_QUALITY} png compress_level={PNG_COMPRESS_LEVEL}"
    return " | ".join([sizes, fallback, *(encoding.describe() for encoding in encodings)])


RECIPE = recipe()


def fit_within(width: int, height: int, box: int) -> tuple[int, int]:
    """Return the size of ``width``×``height`` scaled to fit a ``box``², never enlarged."""
    longest = max(width, height)
    if longest <= box:
        return width, height
    scale = box / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def public_original(data: bytes, info: decoding.ImageInfo) -> bytes:
    """``data`` as it may be shared: no location, device or owner metadata.

    Lossless (:func:`kitteh.metadata.strip_metadata`): the same compressed pixels,
    orientation and colour profile. A JPEG, PNG, WebP or GIF whose structure cannot
    be walked although Pillow reads it is re-encoded instead, with nothing but its
    orientation.

    :raise ImageError: a HEIC/HEIF or AVIF file whose metadata could not be found:
        there is no encoder here to write it afresh, and it is not served as it is.
    """
    try:
        clean = metadata.strip_metadata(data, info.content_type, info.orientation)
        if decoding.inspect(clean, max_pixels=info.width * info.height) == info:
            return clean
    except (metadata.UnreadableStructure, decoding.ImageError):
        pass
    if not formats.of(info.content_type).reencodable:
        raise decoding.ImageError(
            "its location and camera details could not be removed safely, so it cannot "
            "be shared; save it as a JPEG and upload that"
        )
    return _reencoded(data, info)


def _reencoded(data: bytes, info: decoding.ImageInfo) -> bytes:
    """The picture encoded afresh in its own format, with its orientation and no metadata.

    Only for a format the table calls :attr:`~kitteh.formats.Format.reencodable`.
    """
    own = formats.of(info.content_type)
    exif = Image.Exif()
    if info.orientation != 1:
        exif[metadata.ORIENTATION_TAG] = info.orientation
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image.info = {key: value for key, value in image.info.items() if key == "icc_profile"}
        if own is formats.JPEG:
            image.save(buffer, own.pillow_format, quality=95, exif=exif.tobytes())
        elif own is formats.GIF:
            image.save(buffer, own.pillow_format, save_all=True)
        else:  # PNG, or an animated WebP kept whole
            image.save(buffer, own.pillow_format, exif=exif.tobytes(), save_all=own is formats.WEBP)
    return buffer.getvalue()


def render_variants(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    encodings: tuple[Encoding, ...] | None = None,
) -> list[Rendition]:
    """Decode ``data`` once and return the monstrous, large and tiny renditions.

    Each fits its box (never upscaled), stands upright whatever the EXIF
    orientation, is in sRGB, carries no metadata, and is a JPEG unless the original
    has real transparency (then a PNG). Each also carries its ``encodings``
    (default :data:`MODERN_ENCODINGS`; ``()`` for none) that came out smaller than
    that fallback: a browser is never sent more bytes for the same picture.

    :raise kitteh.decoding.ImageError: the data is not a usable image (see
        :func:`kitteh.decoding.inspect`), or it is truncated or corrupt (``CorruptImage``).
    """
    encodings = MODERN_ENCODINGS if encodings is None else encodings
    renditions = []
    for kind, image in resize(data, max_pixels=max_pixels):
        fallback = encode_fallback(image)
        alternatives = (Encoded(e.content_type, encode(image, e)) for e in encodings)
        renditions.append(
            Rendition(
                kind,
                image.width,
                image.height,
                fallback.content_type,
                fallback.data,
                tuple(a for a in alternatives if len(a.data) < len(fallback.data)),
            )
        )
    return renditions


def resize(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[tuple[str, Image.Image]]:
    """Decode ``data`` once and return each kind's picture, largest first, not yet encoded.

    Upright, sRGB, without metadata: what :func:`render_variants` encodes (and the
    bench encodes in every format to compare them).

    :raise ImageError: as :func:`render_variants`.
    """
    with decoding.open_bounded(data, max_pixels) as image:
        upright = decoding.upright_size(image)
        targets = [(kind, fit_within(*upright, box)) for kind, box in SIZES]
        try:
            working = _normalise_mode(decoding.decode(image, upright, targets[0][1]))
            if working.size != targets[0][1]:
                # Done inside the block so the full decoded frame is freed at once.
                working = _first_step(working, targets[0][1])
            elif working is image:
                working = image.copy()  # small original: must outlive the closed file
        except decoding.DECODE_ERRORS as exc:
            raise decoding.CorruptImage(f"the image data is truncated or corrupt ({exc})") from exc

    pictures = []
    for kind, size in targets:
        if working.size != size:
            working = working.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if kind == targets[0][0]:
            working = _to_srgb(working)
        # Pillow copies ``info`` (EXIF, ICC, comments) along with pixels; variants are
        # sRGB and must not carry the original's metadata (GPS, camera serials).
        working.info = {}
        pictures.append((kind, working))
    return pictures


def encode(image: Image.Image, encoding: Encoding) -> bytes:
    """Write ``image`` in a modern format, on one thread.

    One thread: a Lambda with 1 GB has about half a core, and ``flask kitteh
    reprocess`` runs one image per core already.
    """
    buffer = io.BytesIO()
    options: dict[str, Any] = dict(encoding.settings)
    if encoding.pillow_format == formats.AVIF.pillow_format:
        options.update(max_threads=1, advanced=encoding.codec_options)
    image.save(buffer, encoding.pillow_format, **options)
    return buffer.getvalue()


def _first_step(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Shrink the decoded frame to the largest rendition.

    From 2x down, Hamming is within 0.0005 SSIM of Lanczos at about half the cost
    (large24: 1500 -> 600 px in 6.5 ms instead of 13); below 2x its softness shows
    (small.jpg 640 -> 600: -0.0027 SSIM), so Lanczos stays there.
    """
    factor = min(image.width / size[0], image.height / size[1])
    resample = Image.Resampling.HAMMING if factor >= 2 else Image.Resampling.LANCZOS
    return image.resize(size, resample, reducing_gap=3.0)


def _normalise_mode(image: Image.Image) -> Image.Image:
    """The decoded frame in a mode the encoders take: L, RGB, or RGBA if it has real alpha."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode == "CMYK":
        return _to_srgb(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit greys: scale to 8 bits instead of letting convert() clip to white.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "1":
        return image.convert("L")
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    alpha_extrema: tuple[int, int] = rgba.getchannel("A").getextrema()  # type: ignore[assignment]
    # A single-band image's extrema are one (min, max) pair.
    return rgba if alpha_extrema[0] < 255 else rgba.convert("RGB")


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=32)
def _transform_to_srgb(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    description = ImageCms.getProfileDescription(source).strip()
    if mode != "CMYK" and description.lower().startswith("srgb"):
        return None  # already sRGB: nothing to do
    output_mode = "RGBA" if mode == "RGBA" else "RGB"
    return ImageCms.buildTransform(
        source, _srgb_profile(), mode, output_mode, ImageCms.Intent.PERCEPTUAL
    )


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert to sRGB through the embedded ICC profile, if there is one."""
    icc_profile = image.info.get("icc_profile")
    if icc_profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            transform = _transform_to_srgb(icc_profile, image.mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            transform = None  # a broken profile: keep the pixels as they are
        if transform is not None:
            image = ImageCms.applyTransform(image, transform) or image
    if image.mode == "CMYK":
        image = image.convert("RGB")
    # The pixels are sRGB now; the old profile must not be applied a second time.
    image.info = {key: value for key, value in image.info.items() if key != "icc_profile"}
    return image


def encode_fallback(image: Image.Image) -> Encoded:
    """Write ``image`` as the fallback every browser takes: JPEG, or PNG if it has alpha."""
    buffer = io.BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, formats.PNG.pillow_format, compress_level=PNG_COMPRESS_LEVEL)
        return Encoded(formats.PNG.content_type, buffer.getvalue())
    image.save(buffer, formats.JPEG.pillow_format, quality=JPEG_QUALITY, optimize=True)
    return Encoded(formats.JPEG.content_type, buffer.getvalue())
