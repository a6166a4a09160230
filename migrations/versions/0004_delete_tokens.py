"""Delete tokens: the hash of the token an uploader deletes an image with.

Only a SHA-256 of the token is kept (:mod:`kitteh.tokens`): a copy of the database
lets nobody delete anything. Images uploaded before this revision have none, and
only an operator deletes them (``flask kitteh delete``).

Revision ID: 0004_delete_tokens
Revises: 0003_formats
Create Date: 2026-12-01 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_delete_tokens"
down_revision: str | None = "0003_formats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delete_token_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("delete_token_hash")
