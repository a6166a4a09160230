"""The resize core on real photos and on hostile files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageFile, ImageStat

from kitteh import decoding, imaging
from tests.conftest import PHOTOS
from tests.support.icc import matrix_profile
from tests.support.pictures import assert_upright, iphone_heic

LANDSCAPES = sorted(PHOTOS.glob("exif-Landscape_*.jpg"))
PORTRAITS = sorted(PHOTOS.glob("exif-Portrait_*.jpg"))


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decoded(rendition: imaging.Rendition) -> Image.Image:
    return Image.open(io.BytesIO(rendition.data))


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0–255."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


@pytest.fixture(scope="module")
def upright_reference() -> dict[str, Image.Image]:
    """The 300 px renditions of the photos that need no turning (orientation 0 and 1)."""
    refs = {}
    for shape, path in (("Landscape", "exif-Landscape_1.jpg"), ("Portrait", "exif-Portrait_0.jpg")):
        large = imaging.render_variants((PHOTOS / path).read_bytes())[1]
        refs[shape] = decoded(large).convert("RGB")
    return refs


@pytest.mark.parametrize("path", LANDSCAPES + PORTRAITS, ids=lambda p: p.name)
def test_photos_come_out_upright_at_the_expected_sizes(
    path: Path, upright_reference: dict[str, Image.Image]
) -> None:
    shape = "Landscape" if "Landscape" in path.name else "Portrait"
    expected = {
        "Landscape": {"monstrous": (600, 400), "large": (300, 200), "tiny": (90, 60)},
        "Portrait": {"monstrous": (400, 600), "large": (200, 300), "tiny": (60, 90)},
    }[shape]

    renditions = imaging.render_variants(path.read_bytes())

    assert {r.kind: (r.width, r.height) for r in renditions} == expected
    for rendition in renditions:
        image = decoded(rendition)
        assert image.format == "JPEG" and rendition.content_type == "image/jpeg"
        assert image.size == (rendition.width, rendition.height)
        assert not image.getexif(), "metadata must be stripped"
        assert "icc_profile" not in image.info
    # Upright: the same picture as the one that needs no turning. A wrong
    # rotation or mirror differs by far more than JPEG noise.
    large = decoded(renditions[1])
    assert difference(large, upright_reference[shape]) < 4
    assert (
        difference(large.transpose(Image.Transpose.FLIP_LEFT_RIGHT), upright_reference[shape]) > 15
    )


def test_small_images_are_never_upscaled() -> None:
    small = encoded(Image.new("RGB", (120, 80), "teal"), "JPEG")
    sizes = [(r.kind, r.width, r.height) for r in imaging.render_variants(small)]
    assert sizes == [("monstrous", 120, 80), ("large", 120, 80), ("tiny", 90, 60)]


def test_transparency_is_kept_as_png() -> None:
    image = Image.new("RGBA", (800, 400), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (200, 100, 600, 300))
    renditions = imaging.render_variants(encoded(image, "PNG"))
    assert {r.content_type for r in renditions} == {"image/png"}
    monstrous = decoded(renditions[0])
    assert monstrous.mode == "RGBA" and monstrous.size == (600, 300)
    assert monstrous.getpixel((5, 5))[3] == 0 and monstrous.getpixel((300, 150))[3] == 255


def test_opaque_png_and_palette_gif_become_jpeg() -> None:
    opaque = encoded(Image.new("RGBA", (700, 700), (10, 200, 30, 255)), "PNG")
    gif = encoded(Image.new("RGB", (700, 500), "orange").convert("P"), "GIF")
    for data in (opaque, gif):
        assert {r.content_type for r in imaging.render_variants(data)} == {"image/jpeg"}


def test_cmyk_and_16_bit_images_are_converted() -> None:
    cmyk = encoded(Image.new("CMYK", (900, 600), (0, 255, 255, 0)), "JPEG")
    monstrous = decoded(imaging.render_variants(cmyk)[0])
    # An RGB JPEG (browsers draw CMYK JPEGs badly, or not at all), and red in it.
    assert monstrous.mode == "RGB"
    red = monstrous.getpixel((300, 200))
    assert isinstance(red, tuple) and red[0] > 200 and red[1] < 60 and red[2] < 60, red
    grey16 = Image.new("I;16", (700, 700), 40000)
    tiny = decoded(imaging.render_variants(encoded(grey16, "PNG"))[2])
    assert tiny.mode == "L"
    assert 140 < tiny.getpixel((10, 10)) < 170  # 40000/65535 of white


def test_wide_gamut_profiles_are_converted_to_srgb() -> None:
    # GIVEN a photo-like colour tagged Adobe RGB, which means another colour in sRGB
    adobe_rgb = matrix_profile()
    tagged = encoded(Image.new("RGB", (900, 600), (40, 160, 60)), "JPEG", icc_profile=adobe_rgb)
    expected = ImageCms.applyTransform(
        Image.new("RGB", (1, 1), (40, 160, 60)),
        ImageCms.buildTransform(
            ImageCms.ImageCmsProfile(io.BytesIO(adobe_rgb)),
            ImageCms.createProfile("sRGB"),
            "RGB",
            "RGB",
            ImageCms.Intent.PERCEPTUAL,
        ),
    ).getpixel((0, 0))

    for rendition in imaging.render_variants(tagged):
        image = decoded(rendition)
        # THEN the pixels are the sRGB colour (within JPEG noise), with no profile left
        assert "icc_profile" not in image.info
        pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
        assert all(abs(a - b) <= 4 for a, b in zip(pixel, expected, strict=True)), pixel
    assert abs(expected[2] - 60) > 8, "the test colour must differ between the two spaces"


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (400, 400), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    first = decoded(imaging.render_variants(buffer.getvalue())[2]).convert("RGB")
    assert first.getpixel((45, 45))[0] > 200


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"", decoding.NotAnImage, "empty"),
        (b"%PDF-1.4 not a cat", decoding.NotAnImage, "not an image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", decoding.NotAnImage, "not an image"),
    ],
)
def test_non_images_are_refused(data: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        decoding.inspect(data)


def test_unsupported_formats_are_refused() -> None:
    tiff = encoded(Image.new("RGB", (10, 10)), "TIFF")
    with pytest.raises(decoding.UnsupportedFormat, match="TIFF images are not supported"):
        imaging.render_variants(tiff)


@pytest.fixture
def decoding_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pixel decode fail the test (Pillow decodes in ``ImageFile.load``)."""

    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_decompression_bombs_are_refused_before_decoding(decoding_forbidden: None) -> None:
    # GIVEN a tiny PNG that claims 9000x6000 pixels: over our limit of 50 million,
    # but under Pillow's own (89 million), so only Kitteh's check stands in the way
    bomb = encoded(Image.new("1", (9000, 6000)), "PNG", optimize=True)
    assert len(bomb) < 100_000
    assert 50_000_000 < 9000 * 6000 < Image.MAX_IMAGE_PIXELS

    # THEN both entry points refuse it from the header, without decoding a pixel
    for check in (decoding.inspect, imaging.render_variants):
        with pytest.raises(decoding.TooManyPixels, match="the limit is 50,000,000 pixels"):
            check(bomb, max_pixels=50_000_000)


def test_images_beyond_pillows_own_limit_are_refused_too(decoding_forbidden: None) -> None:
    bomb = encoded(Image.new("1", (20_000, 20_000)), "PNG", optimize=True)
    with pytest.raises(decoding.TooManyPixels, match="pixels"):
        decoding.inspect(bomb, max_pixels=10**9)


def test_truncated_jpeg_is_reported_as_corrupt() -> None:
    photo = (PHOTOS / "exif-Landscape_1.jpg").read_bytes()
    with pytest.raises(decoding.CorruptImage, match="truncated or corrupt"):
        imaging.render_variants(photo[: len(photo) // 2])


def test_fit_within_keeps_the_aspect_ratio() -> None:
    assert imaging.fit_within(4032, 3024, 600) == (600, 450)
    assert imaging.fit_within(3024, 4032, 90) == (68, 90)
    assert imaging.fit_within(10_000, 10, 90) == (90, 1)
    assert imaging.fit_within(50, 50, 90) == (50, 50)


@pytest.mark.parametrize(
    "name", ["exif-Landscape_6.jpg", "exif-Landscape_3.jpg", "exif-Portrait_5.jpg"]
)
def test_iphone_heic_is_accepted_and_comes_out_upright(name: str) -> None:
    # GIVEN an iPhone-style HEIC: the sensor's pixels, turned (and mirrored) by the container
    photo = PHOTOS / name
    heic = iphone_heic(photo)
    landscape = "Landscape" in name

    # THEN it is recognised from its bytes, upright, and made into the usual web sizes
    upright = (1800, 1200) if landscape else (1200, 1800)
    assert decoding.inspect(heic) == decoding.ImageInfo("image/heic", *upright)
    renditions = imaging.render_variants(heic)
    assert [(r.kind, r.width, r.height, r.content_type) for r in renditions] == [
        (kind, *(size if landscape else size[::-1]), "image/jpeg")
        for kind, size in (("monstrous", (600, 400)), ("large", (300, 200)), ("tiny", (90, 60)))
    ]
    assert_upright(renditions[0].data, photo)


def test_every_size_also_comes_in_avif_smaller_than_the_jpeg() -> None:
    photo = PHOTOS / "exif-Landscape_6.jpg"
    for rendition in imaging.render_variants(photo.read_bytes()):
        modern = {a.content_type: a for a in rendition.alternatives}
        # AVIF beats the JPEG on every size of a real photo; WebP is kept only where it does too
        assert "image/avif" in modern, rendition.kind
        assert list(modern) == [
            e.content_type for e in imaging.MODERN_ENCODINGS if e.content_type in modern
        ]
        for alternative in rendition.alternatives:
            assert len(alternative.data) < len(rendition.data)
            image = Image.open(io.BytesIO(alternative.data))
            assert (
                image.format
                == {"image/avif": "AVIF", "image/webp": "WEBP"}[alternative.content_type]
            )
            assert image.size == (rendition.width, rendition.height)
            assert not image.getexif() and "icc_profile" not in image.info
            assert_upright(image, photo)


def test_a_format_larger_than_the_jpeg_is_not_kept() -> None:
    # GIVEN WebP at quality 100, larger than the JPEG at 85 on a real photo's bigger sizes
    lavish = imaging.Encoding("image/webp", "webp", "WEBP", (("quality", 100),))
    photo = (PHOTOS / "exif-Landscape_1.jpg").read_bytes()
    pictures = dict(imaging.resize(photo))

    renditions = imaging.render_variants(photo, encodings=(lavish,))

    # THEN a size keeps its WebP exactly when it came out smaller than its JPEG
    for rendition in renditions:
        smaller = len(imaging.encode(pictures[rendition.kind], lavish)) < len(rendition.data)
        assert bool(rendition.alternatives) == smaller, rendition.kind
    assert not renditions[0].alternatives, "the 600 px WebP at q100 should outweigh the JPEG"


def test_modern_formats_keep_transparency() -> None:
    image = Image.new("RGBA", (800, 400), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (200, 100, 600, 300))
    monstrous = imaging.render_variants(encoded(image, "PNG"))[0]
    assert monstrous.content_type == "image/png" and monstrous.alternatives
    for alternative in monstrous.alternatives:
        decoded_alternative = Image.open(io.BytesIO(alternative.data)).convert("RGBA")
        assert decoded_alternative.getpixel((5, 5))[3] == 0
        assert decoded_alternative.getpixel((300, 150))[3] == 255


def test_the_recipe_names_sizes_and_settings() -> None:
    assert imaging.RECIPE.startswith("monstrous600 large300 tiny90 | jpeg quality=85")
    assert "avif quality=" in imaging.RECIPE and "webp quality=" in imaging.RECIPE
    assert imaging.recipe(()) != imaging.RECIPE


def test_the_heif_decoder_is_loaded_only_for_a_heif_original() -> None:
    # pi-heif's import is ~20 ms of every cold start; most containers never see a HEIC
    script = (
        "import sys; from kitteh import imaging; "
        "imaging.render_variants(open(sys.argv[1], 'rb').read()); "
        "assert 'pi_heif' not in sys.modules, 'loaded for a JPEG'"
    )
    import subprocess
    import sys

    photo = str(PHOTOS / "exif-Landscape_1.jpg")
    subprocess.run([sys.executable, "-c", script, photo], check=True, cwd=Path(__file__).parents[1])
