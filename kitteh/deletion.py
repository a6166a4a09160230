"""Deletion: an image goes with its original and everything made from it.

By its uploader, holding its delete token (:func:`delete_with_token`), or by an
operator (``flask kitteh delete``: :func:`delete_image`). The caller commits.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from kitteh import tokens
from kitteh.errors import Rejected
from kitteh.gallery import get_image
from kitteh.storage import Storage
from models import Image

log = logging.getLogger(__name__)


def delete_with_token(session: Session, storage: Storage, name: str, token: str | None) -> None:
    """Delete the image ``name`` for whoever holds its delete token.

    :raise Rejected: no image of that name (404), or a missing or wrong token
        (403; nothing is removed).
    """
    image = get_image(session, name)
    if image is None:
        raise Rejected(f"no image is named {name!r}", 404)
    if not token:
        raise Rejected("send the image's delete token: 'Authorization: Bearer <delete_token>'", 403)
    if not tokens.delete_token_matches(image.delete_token_hash, token):
        raise Rejected("that is not this image's delete token", 403)
    delete_image(session, storage, image)


def delete_image(session: Session, storage: Storage, image: Image) -> None:
    """Remove an image: its original, every object under its variants' prefix, then its row.

    The prefix holds the public original too (:meth:`Storage.public_original_key`).
    The objects go first: if a step fails, the row is still there and the same
    call can be made again (removing an object that is gone already is no error),
    whereas a row removed first would leave objects that nothing points to. Every
    object under the prefix goes, whatever formats were made; the row's variants
    go with it (``ON DELETE CASCADE``). The caller commits.
    """
    storage.delete_variants(image.original_key)
    storage.delete_original(image.original_key)
    session.delete(image)
    session.flush()
    log.info("image %s deleted", image.name)
