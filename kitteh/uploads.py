"""Creating uploads: a name and a row for each, the original stored or a grant handed out.

These functions are handed a SQLAlchemy session and a :class:`Storage`; they know
nothing about HTTP or Lambda events. They follow :mod:`kitteh.db`'s transaction rule,
except that the image row is committed before its object can exist
(:func:`upload_original`, :func:`create_presigned_upload`), and withdrawn again
(:func:`withdraw_upload`) when the original could not be stored. What happens to the
object next is :mod:`kitteh.processing`'s.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kitteh import decoding, formats, names, tokens
from kitteh.aws import is_timeout
from kitteh.config import Settings
from kitteh.db import commit_before_object_exists
from kitteh.errors import Rejected
from kitteh.storage import Storage
from models import Image, ImageStatus

log = logging.getLogger(__name__)

#: With 144 million names, at a million images a fresh draw is taken less than
#: one time in a hundred; eight draws in a row all taken is practically
#: impossible, and a loud error if the word lists ever shrink.
MAX_NAME_ATTEMPTS = 8

MAX_FILENAME_LENGTH = 255


class NameSpaceExhausted(RuntimeError):
    """No free name after :data:`MAX_NAME_ATTEMPTS` draws."""


@dataclass(frozen=True)
class PresignedUpload:
    image: Image
    url: str
    fields: dict[str, str]


def create_image(
    session: Session,
    *,
    original_key: str,
    original_filename: str | None,
    content_type: str | None = None,
    width: int | None = None,
    height: int | None = None,
    size: int | None = None,
    delete_token: str | None = None,
) -> Image:
    """Insert a pending image under a fresh memorable name.

    Only the hash of ``delete_token`` is stored (:mod:`kitteh.tokens`).

    Uniqueness is the database's job: we insert and, if the unique constraint on
    the folded name refuses, draw again inside a savepoint. Checking first and
    inserting after would race with every other upload.

    :raise NameSpaceExhausted: every draw was taken.
    """
    for _ in range(MAX_NAME_ATTEMPTS):
        name = names.generate_name()
        image = Image(
            name=name,
            name_key=names.name_key(name),
            status=ImageStatus.PENDING,
            original_key=original_key,
            original_filename=_clean_filename(original_filename),
            content_type=content_type,
            width=width,
            height=height,
            bytes=size,
            delete_token_hash=tokens.hash_delete_token(delete_token) if delete_token else None,
        )
        try:
            with session.begin_nested():
                session.add(image)
        except IntegrityError as exc:
            if "name_key" not in str(exc.orig):
                raise
            log.info("name %s is taken, drawing another", name)
            continue
        return image
    raise NameSpaceExhausted(f"no free name after {MAX_NAME_ATTEMPTS} draws")


def upload_original(
    session: Session,
    storage: Storage,
    *,
    stream: IO[bytes],
    filename: str | None,
    delete_token: str | None = None,
) -> Image:
    """Accept an original through the app (form or API) and store it.

    ``delete_token`` (:func:`kitteh.tokens.new_delete_token`) is what its uploader
    will delete it with; only its hash is kept.

    The bytes are identified from their content before anything is stored; the
    image row is committed before the object is written, so that the object's
    event always finds it (:func:`kitteh.db.commit_before_object_exists`).

    When storing fails, storage decides the upload's fate, not the error: S3 may
    have stored the object and lost only its answer. If it holds the object, the
    upload stands; otherwise the row is withdrawn (unless the resize function has
    settled it meanwhile, which proves the object exists) and the error propagates,
    and an object that lands later anyway is removed by its own event
    (:func:`kitteh.processing.process_original` finds no row). Either way what the caller is told
    matches what ends up stored: no image nobody was given, none lost.

    :raise Rejected: empty or too large.
    :raise kitteh.decoding.ImageError: not an image, or not one we accept.
    """
    data = stream.read(storage.settings.max_upload_bytes + 1)
    if not data:
        raise Rejected("the file is empty")
    if len(data) > storage.settings.max_upload_bytes:
        raise Rejected(too_large_message(storage.settings), 413)
    info = decoding.inspect(data, max_pixels=storage.settings.max_pixels)
    image = create_image(
        session,
        original_key=storage.new_original_key(),
        original_filename=filename,
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        size=len(data),
        delete_token=delete_token,
    )
    commit_before_object_exists(session)
    try:
        storage.put_original(image.original_key, data, info.content_type)
    except Exception as exc:
        if _stored_after_all(storage, image.original_key, len(data), exc):
            log.warning("image %s: S3 stored the original but its answer was lost", image.name)
            return image
        if not withdraw_upload(session, image):
            log.warning("image %s: settled while its upload failed; it stands", image.name)
            return image
        raise
    return image


def _stored_after_all(storage: Storage, key: str, size: int, error: Exception) -> bool:
    """Ask storage whether a PUT that failed stored the object all the same.

    Not after a timeout: S3 is hanging, and a HEAD would wait as long again; the
    object's own event cleans up if it landed.
    """
    if is_timeout(error):
        return False
    try:
        return storage.original_size(key) == size
    except Exception:
        log.warning("could not ask storage about %s", key, exc_info=True)
        return False


def withdraw_upload(session: Session, image: Image) -> bool:
    """Delete a pending image whose original could not be stored; False if it is settled.

    Only a pending row is deleted, in one statement: if the resize function settled
    it meanwhile (the object did land), the row stays and the upload stands.
    """
    image_id, name = image.id, image.name
    result = session.execute(
        delete(Image).where(Image.id == image_id, Image.status == ImageStatus.PENDING)
    )
    session.commit()
    withdrawn = bool(getattr(result, "rowcount", 0))
    if withdrawn:
        log.info("image %s withdrawn: its original could not be stored", name)
    return withdrawn


def create_presigned_upload(
    session: Session,
    storage: Storage,
    *,
    filename: Any,
    content_type: Any,
    size: Any,
    delete_token: str | None = None,
) -> PresignedUpload:
    """Reserve a name and key, and let the browser POST the original to S3 itself.

    S3 enforces the policy (key, content type, size); the resize function checks
    the bytes once they arrive. The row is committed before the grant is handed
    out (:func:`kitteh.db.commit_before_object_exists`). ``delete_token`` as for
    :func:`upload_original`.

    :raise Rejected: a field is missing or wrong, the type is not an image
        type we take (415) or the size is over the limit (413).
    """
    if not isinstance(filename, str) or not filename.strip():
        raise Rejected("'filename' is required and must be a string")
    if not isinstance(content_type, str):
        raise Rejected("'content_type' is required and must be a string")
    if isinstance(size, bool) or not isinstance(size, int):
        raise Rejected("'size' is required and must be a whole number of bytes")
    content_type = content_type.strip().lower()
    if content_type in ("", "application/octet-stream"):
        # What browsers send for a type their system does not know (HEIC, often):
        # the extension says what S3 will be told; the resize function checks the bytes.
        extension = posixpath.splitext(filename.strip().lower())[1]
        named = formats.BY_ENDING.get(extension)
        content_type = named.content_type if named is not None else content_type
    if not content_type:
        raise Rejected("'content_type' is required and must be a string")
    if content_type not in formats.ACCEPTED_CONTENT_TYPES:
        accepted = ", ".join(sorted(formats.ACCEPTED_CONTENT_TYPES))
        raise Rejected(f"{content_type} is not accepted; use one of {accepted}", 415)
    if size <= 0:
        raise Rejected("the file is empty")
    if size > storage.settings.max_upload_bytes:
        raise Rejected(too_large_message(storage.settings), 413)
    image = create_image(
        session,
        original_key=storage.new_original_key(),
        original_filename=filename,
        delete_token=delete_token,
    )
    commit_before_object_exists(session)
    post = storage.presigned_post(image.original_key, content_type, size)
    return PresignedUpload(image, post["url"], post["fields"])


def _clean_filename(filename: str | None) -> str | None:
    """Keep the name as given (it is only ever displayed, escaped), minus paths and controls."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if ch.isprintable()).strip()
    return printable[:MAX_FILENAME_LENGTH] or None


def too_large_message(settings: Settings) -> str:
    """Say that a file is over the upload limit, in the same words on every way in."""
    return f"the file is larger than the {format_bytes(settings.max_upload_bytes)} limit"


def format_bytes(count: int) -> str:
    """Write a byte count as people read it: ``25 MB``, ``340 KB``, ``1.5 MB`` (units of 1024)."""
    if count < 1024:
        return f"{count} bytes"
    size, unit = count / 1024, "KB"
    for larger in ("MB", "GB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f}".removesuffix(".0") + f" {unit}"
