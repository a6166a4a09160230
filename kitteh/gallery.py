"""Listing and lookup: images by name or page slug, the gallery's pages, the download.

Read paths for the views and the CLI, handed a session (and, for the download, a
:class:`Storage`). :func:`original_download_url` may write a public original for an
image settled before they were made; the caller commits.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kitteh import decoding, imaging, names
from kitteh.errors import Rejected
from kitteh.storage import ObjectMissing, Storage
from models import Image, ImageStatus

#: Image ids are PostgreSQL ``integer``s; a cursor past them is not one we made.
MAX_IMAGE_ID = 2**31 - 1
#: The longest cursor :func:`encode_cursor` makes (ten digits, base64) with room to spare.
MAX_CURSOR_LENGTH = 32


@dataclass(frozen=True)
class Page:
    items: list[Image]
    #: Cursor of the next page, older images; None on the last page.
    next_cursor: str | None
    #: Cursor of the previous page, newer images (``newer=``); None on the first page.
    prev_cursor: str | None = None


def get_image(session: Session, name: str) -> Image | None:
    """Find an image by name, whatever its case."""
    if not names.could_be_name(name):
        return None
    return session.scalars(select(Image).where(Image.name_key == names.name_key(name))).first()


def find_by_page_slug(session: Session, slug: str) -> Image | None:
    """Find the image of a page slug: ``<Name>Kitty`` or plain ``<Name>``."""
    name = names.parse_page_name(slug)
    if name is None:
        return None
    return get_image(session, name) or (get_image(session, slug) if name != slug else None)


def list_images(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    newer: str | None = None,
) -> Page:
    """Return a page of images, newest first, and the cursors of the pages around it.

    Keyset pagination on the id: a deep page costs what the first one does,
    unlike OFFSET, and uploads arriving meanwhile do not shift the pages.
    ``cursor`` asks for the page older than a page's last image, ``newer`` for the
    page newer than a page's first one; when fewer than ``limit`` images are newer,
    that is the first page, and the first page is what comes back.

    :raise Rejected: a malformed cursor or status.
    """
    query = select(Image)
    if status is not None:
        if status not in set(ImageStatus):
            raise Rejected(f"unknown status {status[:40]!r}")
        query = query.where(Image.status == status)
    if newer:
        pivot = decode_cursor(newer)
        above = list(
            session.scalars(query.where(Image.id > pivot).order_by(Image.id.asc()).limit(limit + 1))
        )
        if len(above) <= limit:
            return list_images(session, limit=limit, status=status)
        items = above[:limit][::-1]
        older = _exists(session, query.where(Image.id < items[-1].id))
        return Page(
            items, encode_cursor(items[-1].id) if older else None, encode_cursor(items[0].id)
        )

    below = query.where(Image.id < decode_cursor(cursor)) if cursor else query
    rows = list(session.scalars(below.order_by(Image.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    prev_cursor = None
    if cursor and items and _exists(session, query.where(Image.id > items[0].id)):
        prev_cursor = encode_cursor(items[0].id)
    return Page(items, next_cursor, prev_cursor)


def _exists(session: Session, query: Select[Image]) -> bool:
    return session.scalar(select(query.exists())) is True


def encode_cursor(image_id: int) -> str:
    return base64.urlsafe_b64encode(str(image_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Read a cursor made by :func:`encode_cursor`.

    :raise Rejected: anything else, including ids no database column can hold
        (a 2**63 would overflow SQLite, a 2**31 PostgreSQL's ``integer``).
    """
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise Rejected("the cursor is not valid")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        digits = base64.urlsafe_b64decode(padded.encode()).decode("ascii")
    except (ValueError, binascii.Error) as exc:
        raise Rejected("the cursor is not valid") from exc
    if not digits.isdecimal() or not digits.isascii():
        raise Rejected("the cursor is not valid")
    value = int(digits)
    if not 0 < value <= MAX_IMAGE_ID:
        raise Rejected("the cursor is not valid")
    return value


# Downloads -----------------------------------------------------------------


def original_download_url(session: Session, storage: Storage, image: Image) -> str | None:
    """The URL that downloads ``image``'s public original, or None if there is none to serve.

    Only a ready image's: a pending one's bytes are unverified (a presigned POST can
    put anything there), a failed one's are no picture we vouch for. What is served
    is the copy without location and device metadata made when the image was
    settled; an image settled before such copies were made gets one now, from its
    stored original if that is still the picture it was settled from, and the
    caller commits the ETag recorded with it.
    """
    if image.status != ImageStatus.READY or image.content_type is None:
        return None
    key = storage.public_original_key(image.original_key, image.content_type)
    if image.original_etag is None:
        try:
            original = storage.get_original(image.original_key)
            info = decoding.inspect(original.data, max_pixels=storage.settings.max_pixels)
            if info.content_type != image.content_type:
                return None
            public = imaging.public_original(original.data, info)
        except (ObjectMissing, decoding.ImageError):
            return None
        storage.put_variant(key, public, info.content_type)
        image.original_etag = original.etag
        session.flush()
    filename = image.original_filename or image.name
    return storage.original_download_url(key, filename, image.content_type)
