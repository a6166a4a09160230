"""The ETag of the original each image was settled from.

Revision ID: 0002_reliability
Revises: 0001
Create Date: 2026-12-01 16:00:00.000000

An upload's fate is decided by what storage holds: the resize function records the
ETag of the object it made the variants from, so that an object replaced afterwards
(a presigned grant posted twice) is noticed and refused instead of being served
beside variants of another picture. Images settled before this revision have none;
they are left as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_reliability"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_etag", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("original_etag")
