"""kitteh.metadata: private metadata out, the very same picture kept, in every format we take."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageCms, ImageSequence

from kitteh import decoding, imaging
from kitteh.metadata import UnreadableStructure, strip_metadata
from tests.conftest import PHOTOS
from tests.support.pictures import (
    SECRET_OWNER,
    SECRET_SERIAL,
    XMP_PACKET,
    private_metadata_in,
    with_private_metadata,
)

PHOTO = (PHOTOS / "exif-Landscape_6.jpg").read_bytes()
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def pixels_and_frames(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as picture:
        return [frame.convert("RGBA").tobytes() for frame in ImageSequence.Iterator(picture)]


def clean(data: bytes, orientation: int = 6) -> bytes:
    info = decoding.inspect(data)
    assert info.orientation == orientation
    return strip_metadata(data, info.content_type, info.orientation)


def assert_same_picture_without_secrets(original: bytes, stripped: bytes, orientation: int) -> None:
    assert private_metadata_in(stripped) == []
    assert pixels_and_frames(stripped) == pixels_and_frames(original)
    with Image.open(io.BytesIO(stripped)) as picture:
        exif = picture.getexif()
        assert dict(exif) == ({0x0112: orientation} if orientation != 1 else {})


@pytest.mark.parametrize(
    ("image_format", "orientation"),
    # A HEIC's turn is the container's (irot/imir), applied as libheif decodes it.
    [("JPEG", 6), ("PNG", 6), ("WEBP", 6), ("HEIF", 1), ("AVIF", 6)],
)
def test_gps_serial_owner_and_xmp_go_the_picture_stays(image_format: str, orientation: int) -> None:
    private = with_private_metadata(PHOTO, image_format)
    assert private_metadata_in(private)
    stripped = clean(private, orientation)
    assert_same_picture_without_secrets(private, stripped, orientation)
    if image_format in ("HEIF", "AVIF"):
        assert len(stripped) == len(private)  # overwritten in place: no offset moved


def test_jpeg_keeps_its_icc_profile_and_drops_comments_iptc_and_vendor_segments() -> None:
    private = with_private_metadata(PHOTO, "JPEG")
    with Image.open(io.BytesIO(private)) as picture:
        buffer = io.BytesIO()
        picture.save(
            buffer,
            "JPEG",
            quality=90,
            icc_profile=SRGB,
            exif=picture.getexif().tobytes(),
            comment=f"by {SECRET_OWNER}".encode(),
        )
    data = buffer.getvalue()
    # A Photoshop/IPTC segment (APP13) and a vendor segment (APP5) right after SOI
    iptc = b"Photoshop 3.0\0" + SECRET_SERIAL.encode()
    vendor = b"VENDOR\0" + SECRET_OWNER.encode()
    data = (
        data[:2]
        + b"\xff\xed" + struct.pack(">H", len(iptc) + 2) + iptc
        + b"\xff\xe5" + struct.pack(">H", len(vendor) + 2) + vendor
        + data[2:]
    )  # fmt: skip

    stripped = clean(data)

    assert_same_picture_without_secrets(data, stripped, 6)
    with Image.open(io.BytesIO(stripped)) as picture:
        assert picture.info.get("icc_profile") == SRGB


@pytest.mark.parametrize(
    "options",
    [{"progressive": True}, {"restart_marker_blocks": 1}],
    ids=["progressive", "restart-markers"],
)
def test_jpeg_scan_structures_survive(options: dict[str, object]) -> None:
    private = with_private_metadata(PHOTO, "JPEG")
    with Image.open(io.BytesIO(private)) as picture:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", exif=picture.getexif().tobytes(), **options)
    data = buffer.getvalue()
    assert_same_picture_without_secrets(data, clean(data), 6)


def test_a_second_picture_after_the_first_is_dropped_with_its_exif() -> None:
    # Multi-picture JPEGs (MPO) carry a second image, with its own EXIF, after the first
    first = with_private_metadata(PHOTO, "JPEG")
    data = first + with_private_metadata(PHOTO, "JPEG")

    stripped = clean(data)

    assert stripped.count(b"\xff\xd8") == 1 and stripped.endswith(b"\xff\xd9")
    assert_same_picture_without_secrets(first, stripped, 6)


def test_an_upright_picture_keeps_no_exif_at_all() -> None:
    with Image.open(io.BytesIO(PHOTO)) as picture:
        exif = picture.getexif()
        exif[0x0112] = 1
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", exif=exif.tobytes())
    data = with_private_metadata(buffer.getvalue(), "JPEG")
    stripped = clean(data, orientation=1)
    assert b"Exif\0\0" not in stripped
    assert_same_picture_without_secrets(data, stripped, 1)


def test_webp_extended_header_flags_follow_what_is_kept() -> None:
    data = with_private_metadata(PHOTO, "WEBP")
    assert data[20] & 0x0C == 0x0C  # VP8X: EXIF and XMP present
    stripped = clean(data)
    assert stripped[20] & 0x0C == 0x08  # EXIF (orientation only) kept, XMP gone
    (riff_size,) = struct.unpack("<I", stripped[4:8])
    assert riff_size == len(stripped) - 8


def animated_gif_with_secrets() -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        loop=0,
        duration=100,
        comment=f"shot by {SECRET_OWNER}".encode(),
    )
    data = buffer.getvalue()
    # An XMP application extension, as Photoshop writes it, before the first image
    xmp = b"\x21\xff\x0bXMP DataXMP" + XMP_PACKET + bytes(range(255, -1, -1)) + b"\x00"
    first_image = data.index(b"\x21\xf9")
    return data[:first_image] + xmp + data[first_image:]


def test_gif_loses_comments_and_xmp_and_keeps_its_animation() -> None:
    data = animated_gif_with_secrets()
    assert private_metadata_in(data)

    stripped = strip_metadata(data, "image/gif")

    assert private_metadata_in(stripped) == []
    assert pixels_and_frames(stripped) == pixels_and_frames(data)
    with Image.open(io.BytesIO(stripped)) as picture:
        assert picture.n_frames == 3 and picture.info.get("loop") == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (PHOTO[: len(PHOTO) // 2], "image/jpeg"),
        (b"\xff\xd8\xff\xe1\xff\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", "image/png"),
        (b"RIFF\0\0\0\0WEBPVP8X\xff\xff\0\0", "image/webp"),
        (b"GIF89a\x01\0\x01\0\0\0\0\x99", "image/gif"),
        (b"not an image at all", "image/jpeg"),
        (b"\0\0\0\x10ftypheic\0\0\0\0", "image/heic"),
        (b"\0\0\0\x10ftypavif\0\0\0\0\0\0\1\0meta\0\0\0\0", "image/avif"),
    ],
    ids=[
        "cut-jpeg",
        "jpeg-segment-past-end",
        "cut-png",
        "cut-webp",
        "unknown-gif-block",
        "junk",
        "heif-without-meta",
        "avif-meta-past-end",
    ],
)
def test_a_structure_that_cannot_be_walked_is_refused(data: bytes, content_type: str) -> None:
    with pytest.raises(UnreadableStructure):
        strip_metadata(data, content_type)


@pytest.fixture
def unwalkable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file's structure as if it could not be walked."""

    def unreadable(*_args: object) -> bytes:
        raise UnreadableStructure("as if")

    monkeypatch.setattr("kitteh.metadata.strip_metadata", unreadable)


@pytest.mark.usefixtures("unwalkable")
def test_an_original_that_cannot_be_walked_is_reencoded_clean() -> None:
    private = with_private_metadata(PHOTO, "JPEG")
    info = decoding.inspect(private)

    public = imaging.public_original(private, info)

    assert private_metadata_in(public) == []
    assert decoding.inspect(public) == info  # same size, type and orientation


@pytest.mark.usefixtures("unwalkable")
def test_a_heif_whose_metadata_cannot_be_found_is_refused_not_served_as_it_is() -> None:
    # No HEVC encoder ships (pi-heif decodes only): such a file cannot be written afresh.
    private = with_private_metadata(PHOTO, "HEIF")
    info = decoding.inspect(private)

    with pytest.raises(decoding.ImageError, match="could not be removed"):
        imaging.public_original(private, info)
