"""The four ways of making the three renditions that the bench compares.

Each method takes the input's bytes (and its path, for ImageMagick, which reads
files) and returns ``Out`` tuples. Heavy imports happen inside the functions so
that a worker measuring one method's peak RSS loads only that method's libraries.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench.common import JPEG_QUALITY, SIZES, Out, find_convert, fit_box

Method = Callable[[bytes, Path, Path], list[Out]]


def kitteh(data: bytes, path: Path, workdir: Path) -> list[Out]:
    """The handler's JPEG path, minus S3: bytes in, JPEG (or PNG) renditions out."""
    from kitteh.imaging import render_variants

    renditions = render_variants(data, encodings=())
    return [Out(r.kind, r.data, r.content_type, r.width, r.height) for r in renditions]


def kitteh_formats(data: bytes, path: Path, workdir: Path) -> list[Out]:
    """Exactly what the resize handler renders: the JPEG path and every modern format."""
    from kitteh.imaging import render_variants

    out = []
    for r in render_variants(data):
        out.append(Out(r.kind, r.data, r.content_type, r.width, r.height))
        out += [Out(r.kind, a.data, a.content_type, r.width, r.height) for a in r.alternatives]
    return out


def pillow_naive(data: bytes, path: Path, workdir: Path) -> list[Out]:
    """Full decode, then a LANCZOS resize from the full image for every size."""
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    out = []
    for kind, box in SIZES:
        small = im.resize(fit_box(im.size, box), Image.Resampling.LANCZOS)
        if small.mode != "RGB":
            small = small.convert("RGB")
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=JPEG_QUALITY)
        out.append(Out(kind, buf.getvalue(), "image/jpeg"))
    return out


def pyvips_cascade(data: bytes, path: Path, workdir: Path) -> list[Out]:
    """Shrink-on-load decode to 600, then 600 -> 300 -> 90 from memory.

    libvips' operation cache is switched off, or repeated runs on the same buffer
    would be served from it and time nothing.
    """
    import pyvips

    pyvips.cache_set_max(0)
    img = pyvips.Image.thumbnail_buffer(data, SIZES[0][1], height=SIZES[0][1], size="down")
    out = []
    for i, (kind, box) in enumerate(SIZES):
        if i:
            img = img.thumbnail_image(box, height=box, size="down")
        img = img.copy_memory()  # materialise once; the next size starts from here
        out.append(Out(kind, img.jpegsave_buffer(Q=JPEG_QUALITY), "image/jpeg"))
    return out


def imagemagick(data: bytes, path: Path, workdir: Path) -> list[Out]:
    """One ``convert in -resize NxN -quality 85 out.jpg`` process per size (the old app).

    Plain ``NxN`` as the old app had it; no bench input is smaller than 600 px,
    so the missing ``>`` never upscales here.
    """
    exe = find_convert()
    if exe is None:
        raise RuntimeError("real ImageMagick not found: run bench/setup.sh")
    out = []
    for kind, box in SIZES:
        dest = workdir / f"im-{box}.jpg"
        cmd = [exe, str(path), "-resize", f"{box}x{box}", "-quality", str(JPEG_QUALITY), str(dest)]
        subprocess.run(cmd, check=True)
        out.append(Out(kind, dest.read_bytes(), "image/jpeg"))
    return out


METHODS: dict[str, Method] = {
    "kitteh": kitteh,
    "kitteh_formats": kitteh_formats,  # bench/formats.py's render-time ratio
    "pyvips": pyvips_cascade,
    "pillow_naive": pillow_naive,
    "imagemagick": imagemagick,
}
