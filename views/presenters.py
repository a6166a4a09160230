"""What the pages and the JSON API show of an image, shaped from the models.

No routes here: a view calls the core, then one of these to shape what it answers.
They read the app's :class:`~kitteh.storage.Storage` and :class:`~kitteh.config.Settings`
through :mod:`views`' accessors and build addresses with ``url_for``, so they run in
a request (``_external`` URLs take the request's host). ``picture_sources`` is also a
template global (:mod:`views.filters`), for ``templates/macros.html``'s ``picture()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import url_for
from markupsafe import escape

from kitteh import formats, uploads
from kitteh.formats import ACCEPTED_CONTENT_TYPES
from kitteh.imaging import MODERN_ENCODINGS, SIZES, VARIANT_KINDS
from models import Image, ImageStatus, Variant
from views import get_settings, get_storage

#: Best first, as a ``<picture>`` lists its sources.
_PREFERENCE = {encoding.content_type: rank for rank, encoding in enumerate(MODERN_ENCODINGS)}
#: How people call the formats we take, and the file name endings that say so (upload.js
#: falls back on them when a browser gives a file no type), from kitteh.formats' table.
#: Unknown types are named after their subtype.
FORMAT_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    f.content_type: (f.label, f.endings) for f in formats.FORMATS if f.accepted
}
#: Box size of each kind, for captions: "Large 300".
BOXES = dict(SIZES)


def page_slug(image: Image) -> str:
    """The last part of the image page's address: ``<Name>Kitty``."""
    return f"{image.name}Kitty"


def variant_sources(variant: Variant) -> list[dict[str, Any]]:
    """The variant in every format it is stored in, best first, the fallback last."""
    storage = get_storage()
    modern = sorted(
        variant.sources, key=lambda s: _PREFERENCE.get(s.content_type, len(_PREFERENCE))
    )
    return [
        {"content_type": s.content_type, "url": storage.variant_url(s.key), "bytes": s.bytes}
        for s in modern
    ] + [
        {
            "content_type": variant.content_type,
            "url": storage.variant_url(variant.key),
            "bytes": variant.bytes,
        }
    ]


@dataclass(frozen=True)
class PictureSource:
    """One ``<source>`` (or the ``<img>``'s own ``srcset``) of a ``<picture>``."""

    content_type: str
    srcset: str


def picture_sources(image: Image, kinds: Sequence[str]) -> list[PictureSource]:
    """The ``<source>`` elements of a picture of ``kinds``, then the fallback ``<img>``'s.

    One kind: each srcset is that variant's URL. Several (a gallery tile, with
    ``sizes``): URL and width of each. A format that one of the kinds lacks (it
    came out larger than the JPEG there) is left out, so that no browser is sent
    a smaller size instead of a larger one.
    """
    variants = [v for v in (image.variant(kind) for kind in kinds) if v is not None]
    if not variants:
        return []
    by_format: dict[str, list[str]] = {}
    for variant in variants:
        for source in variant_sources(variant):
            described = source["url"] if len(kinds) == 1 else f"{source['url']} {variant.width}w"
            by_format.setdefault(source["content_type"], []).append(described)
    return [
        PictureSource(content_type, ", ".join(srcset))
        for content_type, srcset in by_format.items()
        if len(srcset) == len(variants)
    ]


def image_resource(image: Image) -> dict[str, Any]:
    """Shape an image for the JSON API."""
    storage = get_storage()
    variants: dict[str, Any] = {}
    if image.status == ImageStatus.READY:
        for kind in VARIANT_KINDS:
            variant = image.variant(kind)
            if variant is not None:
                variants[kind] = {
                    "url": storage.variant_url(variant.key),
                    "width": variant.width,
                    "height": variant.height,
                    "bytes": variant.bytes,
                    "content_type": variant.content_type,
                    # Lasting: redirects to the current object URL, which expires.
                    "permalink": url_for(
                        "pages.variant", name=image.name, kind=kind, _external=True
                    ),
                    "sources": variant_sources(variant),
                }
    return {
        "name": image.name,
        "status": image.status,
        "error": image.error,
        "page_url": url_for("pages.image_page", slug=page_slug(image), _external=True),
        "original_filename": image.original_filename,
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "bytes": image.bytes,
        "created_at": image.created_at.isoformat(),
        "original_url": url_for("pages.original", name=image.name, _external=True),
        "variants": variants,
    }


@dataclass(frozen=True)
class Share:
    """What the image page offers to copy: lasting links and embed snippets."""

    page: str
    #: Kind → the lasting ``/img/<name>/<kind>`` address, largest first.
    sizes: dict[str, str]
    markdown: str | None
    html: str | None

    @property
    def copies(self) -> list[tuple[str, str, str]]:
        """(key, label, text) of each copy button, in the page's order."""
        rows = [("page", "Page link", self.page)]
        rows += [
            (kind, f"{kind.capitalize()} {BOXES[kind]} link", u) for kind, u in self.sizes.items()
        ]
        if self.markdown:
            rows.append(("markdown", "Markdown", self.markdown))
        if self.html:
            rows.append(("html", "HTML", self.html))
        return rows


def share_links(image: Image) -> Share:
    """Lasting links to the page and each size, and embed snippets of the Large size."""
    page = url_for("pages.image_page", slug=page_slug(image), _external=True)
    if image.status != ImageStatus.READY:
        return Share(page, {}, None, None)
    sizes = {
        kind: url_for("pages.variant", name=image.name, kind=kind, _external=True)
        for kind in reversed(VARIANT_KINDS)
        if image.variant(kind) is not None
    }
    large = image.variant("large")
    if large is None:
        return Share(page, sizes, None, None)
    src = sizes["large"]
    markdown = f"[![{image.name}]({src})]({page})"
    html = (
        f'<a href="{escape(page)}"><img src="{escape(src)}" alt="{escape(image.name)}"'
        f' width="{large.width}" height="{large.height}"></a>'
    )
    return Share(page, sizes, markdown, html)


@dataclass(frozen=True)
class UploadForm:
    """What the upload form tells people, and upload.js, about what it takes."""

    max_bytes: int
    #: The limit in words: "25 MB".
    max_size: str
    #: The core's refusal, word for word, for upload.js to show when S3 refuses.
    too_large: str
    #: Content type → the file name endings that say so.
    formats: dict[str, list[str]]
    #: "JPEG, PNG, WebP or GIF".
    format_words: str
    #: The file input's ``accept``: the types and their endings.
    accept: str


def upload_form() -> UploadForm:
    settings = get_settings()
    accepted = sorted(ACCEPTED_CONTENT_TYPES, key=_format_order)
    named = {ct: FORMAT_NAMES.get(ct, (ct.split("/")[-1].upper(), ())) for ct in accepted}
    endings = {ct: list(ends) for ct, (_name, ends) in named.items()}
    names = [name for name, _ends in named.values()]
    return UploadForm(
        max_bytes=settings.max_upload_bytes,
        max_size=uploads.format_bytes(settings.max_upload_bytes),
        too_large=uploads.too_large_message(settings),
        formats=endings,
        format_words=names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}",
        accept=",".join([*accepted, *(end for ends in endings.values() for end in ends)]),
    )


def _format_order(content_type: str) -> tuple[int, str]:
    known = list(FORMAT_NAMES)
    return (known.index(content_type) if content_type in known else len(known), content_type)
