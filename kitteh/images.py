"""What Kitteh does with images: accept uploads, process originals, list and find.

These functions are handed a SQLAlchemy session and a :class:`Storage`; they
know nothing about HTTP or Lambda events. The web views, the resize handler, the
CLI and the tests all call them. They follow :mod:`kitteh.db`'s transaction rule:
they flush, the caller commits, except where a row must be committed before its
object exists (:func:`upload_original`, :func:`create_presigned_upload`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from sqlalchemy import Select, delete, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kitteh import decoding, formats, imaging, names, tokens
from kitteh.aws import is_timeout
from kitteh.config import Settings
from kitteh.db import commit_before_object_exists
from kitteh.storage import ObjectMissing, Storage, StoredObject
from models import Image, ImageStatus, Variant, VariantSource

log = logging.getLogger(__name__)

#: With 144 million names, at a million images a fresh draw is taken less than
#: one time in a hundred; eight draws in a row all taken is practically
#: impossible, and a loud error if the word lists ever shrink.
MAX_NAME_ATTEMPTS = 8

MAX_FILENAME_LENGTH = 255
#: Image ids are PostgreSQL ``integer``s; a cursor past them is not one we made.
MAX_IMAGE_ID = 2**31 - 1
#: The longest cursor :func:`encode_cursor` makes (ten digits, base64) with room to spare.
MAX_CURSOR_LENGTH = 32


class Rejected(ValueError):
    """A request that cannot be served as it is; ``status_code`` says how to answer."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class NameSpaceExhausted(RuntimeError):
    """No free name after :data:`MAX_NAME_ATTEMPTS` draws."""


@dataclass(frozen=True)
class Page:
    items: list[Image]
    #: Cursor of the next page, older images; None on the last page.
    next_cursor: str | None
    #: Cursor of the previous page, newer images (``newer=``); None on the first page.
    prev_cursor: str | None = None


@dataclass(frozen=True)
class PresignedUpload:
    image: Image
    url: str
    fields: dict[str, str]


# Creating ------------------------------------------------------------------


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
    (:func:`process_original` finds no row). Either way what the caller is told
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


# Processing ----------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    """What processing an original came to, before it is recorded under the row's lock."""

    etag: str | None
    info: decoding.ImageInfo | None = None
    renditions: tuple[imaging.Rendition, ...] = ()
    size: int | None = None
    error: str | None = None
    #: The object changed after the image was settled: withdraw what was made.
    replaced: bool = False


def process_original(
    session: Session, storage: Storage, key: str, *, force: bool = False
) -> Image | None:
    """Make the variants of the original at ``key``, in every format, and settle its image.

    Returns None if the key has no image. Only a key the app granted (a row
    committed before its object could exist) is processed; nothing else is adopted.
    An object at a key of the app's own making whose row is gone belongs to a
    withdrawn (or deleted) upload, and is removed with anything made from it.

    The slow part (reading the original, decoding, encoding, writing variants in
    every format and the public original) runs before the row is locked; the
    result is recorded under ``SELECT ... FOR UPDATE``, so deliveries of one event
    racing each other serialise there: the first records, the others find the
    image settled from the same object and leave it (their writes were the same
    bytes). Running it again for the same object changes nothing, unless the image
    is ready with variants made by another recipe than today's (sizes, formats,
    settings), or ``force`` says to render it anyway (``flask kitteh reprocess``);
    objects that the new variants no longer use are then deleted once the session
    commits. The public original is made again with them, never left out.

    The image remembers the ETag of the object it was settled from. A settled image
    whose object has another ETag now was replaced (a presigned grant posted twice):
    it is refused, failed with the reason, and its variants and public original are
    deleted, so nothing shown or served can disagree with what storage holds. It
    stays refused, ``force`` or not: the ETag it remembers is the first object's.

    A file that is not a usable image ends ``failed`` with the reason and raises
    nothing: a retry cannot help. Storage and database errors propagate so that
    the event is retried.
    """
    image = session.scalars(select(Image).where(Image.original_key == key)).one_or_none()
    if image is None:
        _discard_ungranted(storage, key)
        return None
    try:
        original: StoredObject | None = storage.get_original(key)
    except ObjectMissing:
        original = None
    settled = image.status != ImageStatus.PENDING
    replaced = settled and original is not None and _changed(image, original.etag)
    if settled and not replaced and not (force or (original is not None and _outdated(image))):
        # A repeated event, or an image settled before ETags were kept (left as it was).
        log.info("image %s is %s already; nothing to do", image.name, image.status)
        return image

    verdict = _judge(storage, key, original, replaced=replaced)

    image = session.scalars(
        select(Image)
        .where(Image.original_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if image is None:  # withdrawn or deleted while we worked
        _discard_ungranted(storage, key)
        return None
    if image.status != ImageStatus.PENDING and not verdict.replaced:
        if _changed(image, verdict.etag):
            verdict = _Verdict(verdict.etag, replaced=True)  # the object changed under us
        elif not (force or _outdated(image)):
            log.info("image %s was settled by another delivery", image.name)
            return image
    _record(session, storage, image, verdict)
    return image


def _changed(image: Image, etag: str | None) -> bool:
    """Does storage now hold another object than the one ``image`` was settled from?"""
    return etag is not None and image.original_etag not in (None, etag)


def _outdated(image: Image) -> bool:
    """Ready, but with variants made by another recipe than today's: render it again."""
    return image.status == ImageStatus.READY and not is_current(image)


def _judge(
    storage: Storage, key: str, original: StoredObject | None, *, replaced: bool
) -> _Verdict:
    """Decide what the original makes, writing its variants and public original."""
    settings = storage.settings
    if original is None:
        return _Verdict(None, error="the original is no longer in storage")
    if replaced:
        return _Verdict(original.etag, replaced=True)
    if original.size > settings.max_upload_bytes:
        return _Verdict(original.etag, size=original.size, error=too_large_message(settings))
    try:
        info = decoding.inspect(original.data, max_pixels=settings.max_pixels)
    except decoding.ImageError as exc:
        return _Verdict(original.etag, size=original.size, error=exc.reason)
    try:
        renditions = imaging.render_variants(original.data, max_pixels=settings.max_pixels)
        public = imaging.public_original(original.data, info)
    except decoding.ImageError as exc:
        return _Verdict(original.etag, info=info, size=original.size, error=exc.reason)
    for rendition in renditions:
        variant_key = storage.variant_key(key, rendition.kind, rendition.extension)
        storage.put_variant(variant_key, rendition.data, rendition.content_type)
        for alternative in rendition.alternatives:
            source_key = storage.variant_key(key, rendition.kind, alternative.extension)
            storage.put_variant(source_key, alternative.data, alternative.content_type)
    storage.put_variant(
        storage.public_original_key(key, info.content_type), public, info.content_type
    )
    return _Verdict(original.etag, info=info, renditions=tuple(renditions), size=original.size)


def _record(session: Session, storage: Storage, image: Image, verdict: _Verdict) -> None:
    keys_before = _object_keys(storage, image)
    if not verdict.replaced:
        # A replaced image keeps the ETag it was settled from: it stays refused.
        image.original_etag = verdict.etag
    if verdict.size is not None:
        image.bytes = verdict.size
    if verdict.info is not None:
        info = verdict.info
        image.content_type, image.width, image.height = info.content_type, info.width, info.height
    if verdict.replaced:
        image.variants.clear()
        storage.delete_variants(image.original_key)
        _fail(image, REPLACED)
    elif verdict.error is not None:
        _fail(image, verdict.error)
    else:
        for rendition in verdict.renditions:
            _record_rendition(storage, image, rendition)
        rendered = {rendition.kind for rendition in verdict.renditions}
        image.variants[:] = [v for v in image.variants if v.kind in rendered]  # sizes dropped
        image.status = ImageStatus.READY
        image.error = None
        image.recipe = imaging.RECIPE
    session.flush()
    if image.status == ImageStatus.READY:
        _delete_after_commit(session, storage, keys_before - _object_keys(storage, image))


#: Why an image whose original changed after it was settled is refused.
REPLACED = (
    "the original was replaced after it was processed (an upload link used twice); "
    "upload the picture again as a new image"
)


def _discard_ungranted(storage: Storage, key: str) -> None:
    """An object no image row stands for: never adopted; removed if the app made its key."""
    if storage.is_granted_shape(key):
        # The app made this key and committed its row before the object could exist;
        # the row is gone, so the upload was withdrawn (its client was told it failed)
        # or the image deleted.
        log.info("removing %s: its upload was withdrawn or its image deleted", key)
        storage.delete_original(key)
        storage.delete_variants(key)
    else:
        log.warning("ignoring %s: no upload was granted for it", key)


def is_current(image: Image) -> bool:
    """Is the image ready, with variants made by today's recipe?"""
    return image.status == ImageStatus.READY and image.recipe == imaging.RECIPE


def _record_rendition(storage: Storage, image: Image, rendition: imaging.Rendition) -> None:
    """Point the image's row of one size at what :func:`_judge` wrote, in every format."""
    variant = image.variant(rendition.kind)
    if variant is None:
        variant = Variant(kind=rendition.kind)
        image.variants.append(variant)
    variant.key = storage.variant_key(image.original_key, rendition.kind, rendition.extension)
    variant.width = rendition.width
    variant.height = rendition.height
    variant.bytes = len(rendition.data)
    variant.content_type = rendition.content_type
    for alternative in rendition.alternatives:
        source = variant.source(alternative.content_type)
        if source is None:
            source = VariantSource(content_type=alternative.content_type)
            variant.sources.append(source)
        source.key = storage.variant_key(image.original_key, rendition.kind, alternative.extension)
        source.bytes = len(alternative.data)
    kept = {alternative.content_type for alternative in rendition.alternatives}
    variant.sources[:] = [s for s in variant.sources if s.content_type in kept]


def _object_keys(storage: Storage, image: Image) -> set[str]:
    """Every object a ready image's rows stand for: variants, their sources, the public original."""
    keys = {v.key for v in image.variants} | {s.key for v in image.variants for s in v.sources}
    if image.status == ImageStatus.READY and image.content_type is not None:
        keys.add(storage.public_original_key(image.original_key, image.content_type))
    return keys


def _delete_after_commit(session: Session, storage: Storage, keys: set[str]) -> None:
    """Delete the objects that no row points to any more, once that is committed.

    Not before: were the transaction rolled back, its rows would still point to them.
    """
    if not keys:
        return

    def delete_unused(_session: Session) -> None:
        for key in sorted(keys):
            try:
                storage.delete_variant(key)
            except Exception:  # an orphan object costs cents; the rows are right
                log.exception("could not delete %s, which no variant uses any more", key)

    event.listen(session, "after_commit", delete_unused, once=True)


def _fail(image: Image, reason: str) -> Image:
    log.warning("image %s failed: %s", image.name, reason)
    image.status = ImageStatus.FAILED
    image.error = reason
    return image


# Serving -------------------------------------------------------------------


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


# Deleting ------------------------------------------------------------------


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


# Settling what no event settled --------------------------------------------


def stale_pending_ids(session: Session, *, older_than: timedelta, limit: int = 100) -> list[int]:
    """Return ids of images still pending ``older_than`` after they were created."""
    cutoff = datetime.now(UTC) - older_than
    query = (
        select(Image.id)
        .where(Image.status == ImageStatus.PENDING, Image.created_at < cutoff)
        .order_by(Image.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def settle_pending(session: Session, storage: Storage, image_id: int) -> Image | None:
    """Finish an upload whose object-created event never came, or fail it.

    A presigned upload the browser abandoned leaves a pending image and no
    object: it fails with a reason, instead of "processing" forever. An
    object whose event was lost (retries exhausted, a notification switched off
    for a while) is processed as the event would have.
    """
    image = session.get(Image, image_id)
    if image is None or image.status != ImageStatus.PENDING:
        return image  # settled meanwhile
    if not storage.has_original(image.original_key):
        return _fail(image, "the upload never reached storage before its upload link expired")
    return process_original(session, storage, image.original_key)


# Reading -------------------------------------------------------------------


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
