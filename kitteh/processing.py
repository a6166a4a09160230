"""Processing an original: render its variants and settle its image, or refuse it.

The resize function calls :func:`process_original` for each object-created event,
``flask kitteh reprocess`` for images made by another recipe, and the maintenance
function :func:`settle_pending` for uploads whose event never came. Whether an image
is rendered at all is one rule, :func:`needs_render`. Handed a session and a
:class:`Storage`; the caller commits (:mod:`kitteh.db`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kitteh import decoding, imaging
from kitteh.storage import ObjectMissing, Storage, StoredObject
from kitteh.uploads import too_large_message
from models import Image, ImageStatus, Variant, VariantSource

log = logging.getLogger(__name__)


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
    etag = original.etag if original is not None else None
    settled = image.status != ImageStatus.PENDING
    # Nothing to render from: a settled image whose original is gone is left as it was
    # (a late event for a removed object); only ``force`` fails it for that.
    gone = settled and original is None and not force
    if gone or not needs_render(image, etag, force):
        # A repeated event, or an image settled before ETags were kept (left as it was).
        log.info("image %s is %s already; nothing to do", image.name, image.status)
        return image

    verdict = _judge(storage, key, original, replaced=settled and _changed(image, etag))

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
        elif not needs_render(image, verdict.etag, force):
            log.info("image %s was settled by another delivery", image.name)
            return image
    _record(session, storage, image, verdict)
    return image


def needs_render(image: Image, etag: str | None, force: bool) -> bool:
    """Say whether ``image`` is to be rendered from its original (or refused) now.

    ``etag`` is the ETag of the original storage holds, None when it holds none or
    was not asked; ``force`` is an operator's "render it anyway".

    True for an image never settled (pending); for any image when ``force``; for one
    settled from another object than storage holds now (``etag`` is not the one it
    remembers: it is then refused, not rendered); and for a ready image whose
    variants were made by another recipe than today's. False for a ready image of
    today's recipe and for a failed one: the same bytes fail the same way (a
    reprocess tries failed images again by its own choice, :mod:`kitteh.reprocess`).
    """
    if image.status == ImageStatus.PENDING or force:
        return True
    return _changed(image, etag) or _outdated(image)


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
