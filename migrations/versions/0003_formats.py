"""Modern formats: a row per extra format of a variant, and the recipe of each image.

Revision ID: 0003_formats
Revises: 0002_reliability
Create Date: 2026-12-01 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_formats"
down_revision: str | None = "0002_reliability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "variant_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_variant_sources_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variant_sources")),
        sa.UniqueConstraint(
            "variant_id", "content_type", name=op.f("uq_variant_sources_variant_id_content_type")
        ),
    )
    # Images rendered before this revision have no recipe: `flask kitteh reprocess --all`
    # gives them the new formats.
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipe", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("recipe")
    op.drop_table("variant_sources")
