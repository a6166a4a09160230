"""A stand-in for ``kitteh.imaging.render_variants``, used only when asked to.

It lets the harness be developed and sanity-checked before the real module exists
(``BENCH_STANDIN=1``). Results produced with it are flagged as such in
``results.json`` and ``RESULTS.md``; the real bench always calls kitteh's own code.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from PIL import Image, ImageCms, ImageOps

from bench.common import JPEG_QUALITY, SIZES, fit_box


class Rendition(NamedTuple):
    """Mirror of kitteh's Rendition contract."""

    kind: str
    width: int
    height: int
    content_type: str
    data: bytes


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA"):
        return im
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.profileToProfile(im, src, _SRGB, outputMode=im.mode) or im


def render_variants(data: bytes, *, max_pixels: int = 80_000_000) -> list[Rendition]:
    """Decode once at reduced DCT scale, orient, sRGB, cascade 600 -> 300 -> 90."""
    im = Image.open(io.BytesIO(data))
    if im.width * im.height > max_pixels:
        raise ValueError("image too large")
    if im.format == "JPEG":
        im.draft("RGB", fit_box(im.size, SIZES[0][1]))
    im = ImageOps.exif_transpose(im)
    im = _to_srgb(im)
    alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    im = im.convert("RGBA" if alpha else "RGB")
    out: list[Rendition] = []
    for kind, box in SIZES:
        im = im.resize(fit_box(im.size, box), Image.Resampling.LANCZOS, reducing_gap=3.0)
        buf = io.BytesIO()
        if alpha:
            im.save(buf, "PNG")
            ctype = "image/png"
        else:
            im.save(buf, "JPEG", quality=JPEG_QUALITY)
            ctype = "image/jpeg"
        out.append(Rendition(kind, im.width, im.height, ctype, buf.getvalue()))
    return out
