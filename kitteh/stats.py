"""What the store holds: images by status, bytes by format (``flask kitteh stats``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kitteh import imaging
from models import Image, ImageStatus, Variant, VariantSource


@dataclass(frozen=True)
class FormatTotal:
    content_type: str
    objects: int
    bytes: int


@dataclass(frozen=True)
class Stats:
    #: Every status, zero included.
    images_by_status: dict[str, int]
    #: Ready images whose variants were not made by today's recipe: ``reprocess --all``.
    outdated: int
    originals: int
    original_bytes: int
    #: Variant objects by format, most bytes first. Not counted: each ready image's
    #: original as served (``variants/<stem>/original.<ext>``, its original less its
    #: metadata), which no row records; ``original_bytes`` gives its size near enough.
    variants_by_format: list[FormatTotal]


def collect(session: Session) -> Stats:
    """Count with the database's own aggregates: a few queries, whatever the size."""
    by_status = {status.value: 0 for status in ImageStatus}
    for status, count in session.execute(select(Image.status, func.count()).group_by(Image.status)):
        by_status[status] = count
    outdated = session.scalar(
        select(func.count())
        .select_from(Image)
        .where(
            Image.status == ImageStatus.READY,
            or_(Image.recipe.is_(None), Image.recipe != imaging.RECIPE),
        )
    )
    originals, original_bytes = session.execute(
        select(func.count(Image.bytes), func.coalesce(func.sum(Image.bytes), 0))
    ).one()
    totals: dict[str, tuple[int, int]] = {}
    for model in (Variant, VariantSource):
        query = select(model.content_type, func.count(), func.sum(model.bytes)).group_by(
            model.content_type
        )
        for content_type, count, size in session.execute(query):
            objects, total = totals.get(content_type, (0, 0))
            totals[content_type] = (objects + count, total + (size or 0))
    formats = [FormatTotal(t, objects, size) for t, (objects, size) in totals.items()]
    return Stats(
        images_by_status=by_status,
        outdated=outdated or 0,
        originals=originals,
        original_bytes=int(original_bytes or 0),
        variants_by_format=sorted(formats, key=lambda f: (-f.bytes, f.content_type)),
    )
