"""SQLAlchemy 2.0 models, usable from Flask, the Lambda handlers and the CLI alike.

Nothing here needs an application context: sessions come from
:mod:`kitteh.db`, and whoever opens a session (a view, a handler, a test) also
commits and closes it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "Image", "ImageStatus", "Variant", "VariantSource"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the zone; SQLite drops it and hands back naive values. Both
    come back aware here, so the API prints the same timestamps whatever the
    database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ImageStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class Base(DeclarativeBase):
    # Stable constraint names, so that migrations can find them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Image(Base):
    """An uploaded original and what became of it."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The memorable CamelCase name, as shown.
    name: Mapped[str] = mapped_column(String(100))
    #: ``name`` folded to lower case. Its unique constraint is what guarantees that
    #: names are unique, whatever their case; lookups go through it.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ImageStatus.PENDING)
    #: Why processing failed, in words a person can act on.
    error: Mapped[str | None] = mapped_column(Text)
    original_key: Mapped[str] = mapped_column(String(512), unique=True)
    #: As the user's browser gave it; only ever shown, escaped, never used as a key.
    original_filename: Mapped[str | None] = mapped_column(String(255))
    #: Detected from the bytes, not taken from the upload's headers.
    content_type: Mapped[str | None] = mapped_column(String(64))
    #: The ETag of the original object the image was settled from (ready or failed):
    #: a later object under the same key is a replacement, refused. None until
    #: settled, and for images settled before revision 0002.
    original_etag: Mapped[str | None] = mapped_column(String(128))
    width: Mapped[int | None]
    height: Mapped[int | None]
    bytes: Mapped[int | None]
    #: SHA-256 of the token its uploader deletes it with (kitteh.tokens); never the token.
    #: None for images uploaded before delete tokens, or written to the bucket directly.
    delete_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: What the variants were made with (``kitteh.imaging.RECIPE``): sizes, formats,
    #: encoder settings. ``flask kitteh reprocess`` renders images whose recipe is not
    #: today's; NULL for images made before recipes were recorded.
    recipe: Mapped[str | None] = mapped_column(String(255))

    variants: Mapped[list[Variant]] = relationship(
        back_populates="image",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Variant.width",
    )

    __table_args__ = (
        # Gallery and API listing: newest first, keyset-paginated on id, optionally
        # only one status.
        Index("ix_images_status_id", "status", "id"),
    )

    def variant(self, kind: str) -> Variant | None:
        return next((v for v in self.variants if v.kind == kind), None)

    def __repr__(self) -> str:
        return f"<Image {self.id} {self.name!r} {self.status}>"


class Variant(Base):
    """One resized copy of an image."""

    __tablename__ = "variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    #: One of ``kitteh.imaging.VARIANT_KINDS``.
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(512))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(64))

    image: Mapped[Image] = relationship(back_populates="variants")
    #: The same picture in modern formats (AVIF, WebP), where smaller than this one.
    sources: Mapped[list[VariantSource]] = relationship(
        back_populates="variant",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    __table_args__ = (UniqueConstraint("image_id", "kind"),)

    def source(self, content_type: str) -> VariantSource | None:
        return next((s for s in self.sources if s.content_type == content_type), None)

    def __repr__(self) -> str:
        return f"<Variant {self.kind} of image {self.image_id} {self.width}x{self.height}>"


class VariantSource(Base):
    """A variant in one more format, for browsers that take it (``<picture>``'s sources).

    The variant's own row keeps the fallback that every browser shows (JPEG, or PNG
    with transparency); one row here per extra format, same pixels, fewer bytes.
    """

    __tablename__ = "variant_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(512))
    bytes: Mapped[int]

    variant: Mapped[Variant] = relationship(back_populates="sources")

    __table_args__ = (UniqueConstraint("variant_id", "content_type"),)

    def __repr__(self) -> str:
        return f"<VariantSource {self.content_type} of variant {self.variant_id}>"
