"""Flask blueprints: thin views over :mod:`kitteh`.

Each request gets one SQLAlchemy session (closed at teardown) and the process's
:class:`~kitteh.storage.Storage`; views parse the request, call the core, and
shape the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, url_for
from sqlalchemy.orm import Session

from kitteh.config import Settings
from kitteh.db import get_sessionmaker
from kitteh.imaging import MODERN_ENCODINGS, VARIANT_KINDS
from kitteh.storage import Storage
from models import Image, ImageStatus, Variant

#: Best first, as a ``<picture>`` lists its sources.
_PREFERENCE = {encoding.content_type: rank for rank, encoding in enumerate(MODERN_ENCODINGS)}


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["kitteh.settings"]
    return settings


def get_storage() -> Storage:
    storage: Storage = current_app.extensions["kitteh.storage"]
    return storage


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = get_sessionmaker(get_settings().database_url)()
    session: Session = g.db_session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def page_slug(image: Image) -> str:
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
