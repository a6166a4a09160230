"""Render existing images again: new formats or sizes for old images, another try for failed ones.

``flask kitteh reprocess`` is a thin wrapper over :func:`select_images` and
:func:`reprocess`. Each image is rendered in a transaction of its own by
:func:`kitteh.processing.process_original`, and an image whose variants were made by
today's recipe (:data:`kitteh.imaging.RECIPE`) is skipped unless forced
(:func:`kitteh.processing.needs_render`); a failed one is tried again. So a run
can be stopped at any point and started again (it does only what is left), and a
second run after a complete one changes nothing. Changing the sizes or the formats
changes the recipe: the same command then renders every image again.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kitteh import imaging, names
from kitteh.db import transaction
from kitteh.processing import needs_render, process_original
from kitteh.storage import Storage
from models import Image, ImageStatus

log = logging.getLogger(__name__)


class Result(enum.StrEnum):
    """What became of one image."""

    RENDERED = "rendered"
    FAILED = "failed"
    #: Made by today's recipe already: nothing to do.
    CURRENT = "current"
    #: Still uploading or being processed: its own event renders it.
    PENDING = "pending"
    #: Deleted since it was selected.
    GONE = "gone"
    #: Storage or database trouble; the image is as it was, and the next run retries it.
    ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    name: str
    result: Result
    detail: str | None = None


@dataclass(frozen=True)
class Selection:
    #: (id, name) of each image to render, oldest first.
    images: list[tuple[int, str]]
    #: Names asked for that no image has.
    unknown: list[str] = field(default_factory=list)


def select_images(
    session: Session,
    *,
    everything: bool = False,
    failed: bool = False,
    image_names: Sequence[str] = (),
    force: bool = False,
) -> Selection:
    """Choose what to render: ``image_names``, or every failed image, or ``everything``.

    ``everything`` is every image that is not ready with today's recipe, failed ones
    included, pending ones excluded (their events render them). Without ``force``,
    images already made by today's recipe are left out.
    """
    query = select(Image.id, Image.name).order_by(Image.id)
    unknown: list[str] = []
    if image_names:
        keys = [names.name_key(name) for name in image_names]
        known = set(session.scalars(select(Image.name_key).where(Image.name_key.in_(keys))))
        unknown = [name for name, key in zip(image_names, keys, strict=True) if key not in known]
        query = query.where(Image.name_key.in_(keys))
    elif failed:
        query = query.where(Image.status == ImageStatus.FAILED)
    elif everything:
        query = query.where(Image.status != ImageStatus.PENDING)
    else:
        return Selection([])
    if not force:
        query = query.where(
            or_(
                Image.status != ImageStatus.READY,
                Image.recipe.is_(None),
                Image.recipe != imaging.RECIPE,
            )
        )
    return Selection([(image_id, name) for image_id, name in session.execute(query)], unknown)


def reprocess_one(storage: Storage, image_id: int, *, force: bool = False) -> Outcome:
    """Render one image again, in a transaction of its own."""
    with transaction(storage.settings.database_url) as session:
        image = session.get(Image, image_id)
        if image is None:
            return Outcome(str(image_id), Result.GONE)
        if image.status == ImageStatus.PENDING:
            return Outcome(image.name, Result.PENDING, "not processed yet; its own event will")
        # Failed images are tried again: a reprocess is how a better decoder reaches them.
        # Storage is not asked here (etag None); process_original compares ETags as it renders.
        wanted = image.status == ImageStatus.FAILED or needs_render(image, None, force)
        if not wanted:
            return Outcome(image.name, Result.CURRENT)
        name = image.name
        if process_original(session, storage, image.original_key, force=True) is None:
            return Outcome(name, Result.GONE)  # deleted while it was rendered
        if image.status == ImageStatus.READY:
            return Outcome(image.name, Result.RENDERED)
        return Outcome(image.name, Result.FAILED, image.error)


def reprocess(
    storage: Storage,
    images: Sequence[tuple[int, str]],
    *,
    jobs: int = 1,
    force: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Counter[Result]:
    """Render ``images`` on ``jobs`` threads; report each as it ends; count the results.

    Threads, not processes: Pillow and its codecs let go of the GIL while they
    decode, resize and encode, and S3 calls wait on the network. An error stays
    with its image. If the caller stops the run (``on_outcome`` raises, or Ctrl-C),
    the images in hand are finished and committed, no new one is started, and the
    next run picks up the rest.
    """
    counts: Counter[Result] = Counter()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reprocess")
    try:
        futures: dict[Future[Outcome], str] = {
            pool.submit(reprocess_one, storage, image_id, force=force): name
            for image_id, name in images
        }
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:
                log.exception(
                    "image %s could not be rendered; the next run retries", futures[future]
                )
                outcome = Outcome(futures[future], Result.ERROR, f"{type(exc).__name__}: {exc}")
            counts[outcome.result] += 1
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return counts
