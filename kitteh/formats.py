"""The image formats Kitteh knows: one row each, every fact about a format in its row.

Decoding, rendering, storage, metadata stripping and the upload form all read this
table, so a new format is one row here (and, if Kitteh is to write it, an encoder in
:mod:`kitteh.imaging`). Plain data: importing it costs nothing and pulls in no codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The file layouts :func:`kitteh.metadata.strip_metadata` knows how to walk.
Container = Literal["jpeg", "png", "webp", "gif", "isobmff"]
#: How variants carry a format: ``fallback`` is what every browser shows (the ``<img>``),
#: ``alternative`` a modern ``<source>`` served only where it comes out smaller.
ServedAs = Literal["fallback", "alternative"]


@dataclass(frozen=True)
class Format:
    """One image format: what it is called, how it is recognised, what Kitteh does with it."""

    content_type: str
    #: How people call it: "JPEG", "WebP".
    label: str
    #: The file name endings that say so, without their dot; Kitteh writes the first.
    extensions: tuple[str, ...]
    #: The names Pillow gives it when it reads the bytes. Empty when Pillow cannot tell it
    #: apart from another format (HEIC is "HEIF" to Pillow; libheif's brand decides).
    pillow_formats: tuple[str, ...]
    #: The layout its metadata lies in, for :mod:`kitteh.metadata`.
    container: Container
    #: Taken as an upload (always recognised from its bytes, never from its name).
    accepted: bool = True
    #: An original that may be encoded afresh when its metadata cannot be stripped in place.
    reencodable: bool = False
    #: What variants use it as; None if Kitteh never writes a variant in it.
    served_as: ServedAs | None = None

    @property
    def extension(self) -> str:
        """The ending of the objects Kitteh writes in this format: ``jpg``."""
        return self.extensions[0]

    @property
    def endings(self) -> tuple[str, ...]:
        """The file name endings with their dot, as a file input's ``accept`` takes them."""
        return tuple(f".{extension}" for extension in self.extensions)

    @property
    def pillow_format(self) -> str:
        """The name Pillow writes it under.

        :raise LookupError: Pillow has no name of its own for it.
        """
        if not self.pillow_formats:
            raise LookupError(f"Pillow has no name of its own for {self.content_type}")
        return self.pillow_formats[0]


# MPO is how Pillow names the multi-picture JPEGs many phones write: a JPEG all the same.
JPEG = Format(
    content_type="image/jpeg",
    label="JPEG",
    extensions=("jpg", "jpeg"),
    pillow_formats=("JPEG", "MPO"),
    container="jpeg",
    reencodable=True,
    served_as="fallback",
)
# The fallback of a variant with real transparency.
PNG = Format(
    content_type="image/png",
    label="PNG",
    extensions=("png",),
    pillow_formats=("PNG",),
    container="png",
    reencodable=True,
    served_as="fallback",
)
WEBP = Format(
    content_type="image/webp",
    label="WebP",
    extensions=("webp",),
    pillow_formats=("WEBP",),
    container="webp",
    reencodable=True,
    served_as="alternative",
)
GIF = Format(
    content_type="image/gif",
    label="GIF",
    extensions=("gif",),
    pillow_formats=("GIF",),
    container="gif",
    reencodable=True,
)
# HEIC (HEVC-coded HEIF, what iPhones write) and HEIF are told apart by libheif, not
# Pillow. Neither is re-encoded: there is no HEVC encoder in the package.
HEIC = Format(
    content_type="image/heic",
    label="HEIC",
    extensions=("heic",),
    pillow_formats=(),
    container="isobmff",
)
HEIF = Format(
    content_type="image/heif",
    label="HEIF",
    extensions=("heif",),
    pillow_formats=("HEIF",),
    container="isobmff",
)
# Like a HEIC, an AVIF original whose metadata cannot be stripped in place is refused, not
# re-encoded (kitteh.imaging.public_original).
AVIF = Format(
    content_type="image/avif",
    label="AVIF",
    extensions=("avif",),
    pillow_formats=("AVIF",),
    container="isobmff",
    served_as="alternative",
)

#: Every format, in the order people are told about them ("JPEG, PNG, WebP, ...").
FORMATS: tuple[Format, ...] = (JPEG, PNG, WEBP, GIF, HEIC, HEIF, AVIF)

BY_CONTENT_TYPE: dict[str, Format] = {f.content_type: f for f in FORMATS}
#: What Pillow detects in the bytes -> the format it is.
BY_PILLOW_FORMAT: dict[str, Format] = {name: f for f in FORMATS for name in f.pillow_formats}
#: A file name ending (``.jpg``) -> the format a browser that knows no type is trusted to mean.
BY_ENDING: dict[str, Format] = {ending: f for f in FORMATS for ending in f.endings}
ACCEPTED_CONTENT_TYPES: frozenset[str] = frozenset(f.content_type for f in FORMATS if f.accepted)


def of(content_type: str) -> Format:
    """The format of ``content_type``.

    :raise KeyError: a content type that is not in the table.
    """
    return BY_CONTENT_TYPE[content_type]
