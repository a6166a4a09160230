"""Flask blueprints: thin views over :mod:`kitteh`.

Each request gets one SQLAlchemy session (closed at teardown) and the process's
:class:`~kitteh.storage.Storage`; views parse the request, call the core, and
shape the answer.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, url_for
from sqlalchemy.orm import Session

from kitteh.config import Settings
from kitteh.db import get_sessionmaker
from kitteh.imaging import VARIANT_KINDS
from kitteh.storage import Storage
from models import Image, ImageStatus


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
