"""The format table: one row per format, and the tables it stands in for."""

from __future__ import annotations

import pytest

from kitteh import formats, imaging


def test_the_accepted_formats_are_the_seven_we_take() -> None:
    assert formats.ACCEPTED_CONTENT_TYPES == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/avif",
    }


@pytest.mark.parametrize(
    ("content_type", "label", "endings", "read_as", "written_as"),
    [
        ("image/jpeg", "JPEG", (".jpg", ".jpeg"), ("JPEG", "MPO"), "jpg"),
        ("image/png", "PNG", (".png",), ("PNG",), "png"),
        ("image/webp", "WebP", (".webp",), ("WEBP",), "webp"),
        ("image/gif", "GIF", (".gif",), ("GIF",), "gif"),
        # Pillow reads a HEIC as HEIF; libheif's brand tells them apart (test_imaging)
        ("image/heic", "HEIC", (".heic",), (), "heic"),
        ("image/heif", "HEIF", (".heif",), ("HEIF",), "heif"),
        ("image/avif", "AVIF", (".avif",), ("AVIF",), "avif"),
    ],
)
def test_each_format_is_named_recognised_and_written_by_its_row(
    content_type: str,
    label: str,
    endings: tuple[str, ...],
    read_as: tuple[str, ...],
    written_as: str,
) -> None:
    row = formats.of(content_type)
    assert (row.label, row.endings, row.extension) == (label, endings, written_as)
    # A file name ending and what Pillow detects in the bytes both lead back to the row
    assert all(formats.BY_ENDING[ending] is row for ending in endings)
    assert all(formats.BY_PILLOW_FORMAT[name] is row for name in read_as)
    assert {n for n, f in formats.BY_PILLOW_FORMAT.items() if f is row} == set(read_as)


def test_only_formats_with_an_encoder_here_are_reencodable() -> None:
    reencodable = {f.content_type for f in formats.FORMATS if f.reencodable}
    assert reencodable == {"image/jpeg", "image/png", "image/webp", "image/gif"}


def test_the_encoders_make_what_the_table_says_variants_are_served_as() -> None:
    alternatives = {f.content_type for f in formats.FORMATS if f.served_as == "alternative"}
    fallbacks = {f.content_type for f in formats.FORMATS if f.served_as == "fallback"}
    assert {e.content_type for e in imaging.MODERN_ENCODINGS} == alternatives
    assert fallbacks == {"image/jpeg", "image/png"}


def test_an_unknown_content_type_is_no_format() -> None:
    with pytest.raises(KeyError):
        formats.of("image/tiff")
    with pytest.raises(LookupError, match="no name of its own"):
        _ = formats.HEIC.pillow_format
