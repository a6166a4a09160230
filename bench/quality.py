"""Image quality: SSIM against a float Lanczos reference.

Speed is only meaningful at equal quality, so every method's 300 px output is
scored against a "truth" made without any 8-bit shortcut: full decode, EXIF
orientation, sRGB, then a Lanczos-3 resize in 32-bit float from the full image.
``reference_ssim_300`` scores a plain full-decode Pillow LANCZOS output the same
way, which is the bar kitteh must stay within 0.002 of, so nobody wins by being
blurry.

Scoring is on luminance (BT.601 weights, as MATLAB's ``rgb2gray`` used in Wang
et al.). Transparent images are compared over black (premultiplied), which is
also what a JPEG encoder that drops alpha shows where alpha is 0.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps
from scipy.ndimage import gaussian_filter

from bench.common import JPEG_QUALITY, SIZES, SSIM_KIND, fit_box

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SRGB = ImageCms.createProfile("sRGB")


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K=(0.01, 0.03).

    Means are taken over the "valid" region only (5 px border cropped), as in the
    reference implementation, so the filter's border handling does not count.
    """
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, sigma=1.5, truncate=3.5)  # radius 5 -> 11x11

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(s[5:-5, 5:-5].mean())


def _oriented_srgb(data: bytes) -> Image.Image:
    """Full decode (no draft), EXIF orientation, embedded profile -> sRGB."""
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    icc = im.info.get("icc_profile")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    im = im.convert("RGBA" if has_alpha else "RGB")
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        im = ImageCms.profileToProfile(im, src, _SRGB, outputMode=im.mode) or im
    return im


def luma(im: Image.Image) -> np.ndarray:
    """Float luminance of a decoded output, premultiplied (over black) if it has alpha."""
    arr = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"), dtype=np.float32)
    y = arr[..., :3] @ _LUMA
    if arr.shape[-1] == 4:
        y *= arr[..., 3] / 255.0
    return y


class Reference:
    """Float Lanczos truth for one input, at whatever size a method produced.

    Luminance is formed at full resolution before resizing: both steps are linear,
    so this equals resizing R, G and B separately, at a third of the cost.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._full = luma(_oriented_srgb(data))
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def at(self, size: tuple[int, int]) -> np.ndarray:
        """Truth luminance at ``size`` (cached: methods mostly agree on the size)."""
        if size not in self._cache:
            f = Image.fromarray(self._full, mode="F").resize(size, Image.Resampling.LANCZOS)
            self._cache[size] = np.clip(np.asarray(f), 0.0, 255.0)
        return self._cache[size]

    def score(self, output: Path) -> float:
        """SSIM of an encoded output file against the truth at the output's own size."""
        with Image.open(output) as im:
            im.load()
            return ssim(luma(im), self.at(im.size))

    def plain_pillow_300(self) -> Image.Image:
        """Full decode, orient, sRGB, LANCZOS to the 300 box, JPEG q85, decoded again."""
        im = _oriented_srgb(self._data)
        box = dict(SIZES)[SSIM_KIND]
        im = im.resize(fit_box(im.size, box), Image.Resampling.LANCZOS)
        if im.mode == "RGBA":  # JPEG has no alpha: flatten over black, as compared
            im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), im)
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
        return Image.open(io.BytesIO(buf.getvalue()))

    def reference_ssim(self) -> float:
        """``reference_ssim_300``: the plain Pillow output's score."""
        im = self.plain_pillow_300()
        im.load()
        return ssim(luma(im), self.at(im.size))
