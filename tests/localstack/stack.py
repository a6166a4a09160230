"""This run's private stack on LocalStack (:mod:`localcloud.harness`), and its records."""

from __future__ import annotations

from sqlalchemy import func, select

from kitteh.db import transaction
from localcloud.harness import PrivateStack
from models import Image


class Stack(PrivateStack):
    """The private stack, plus what the tests ask of its database."""

    def image_count(self) -> int:
        with transaction(self.settings.database_url) as session:
            return int(session.scalar(select(func.count()).select_from(Image)) or 0)

    def image_by_key(self, original_key: str) -> Image | None:
        with transaction(self.settings.database_url) as session:
            image = session.scalars(
                select(Image).where(Image.original_key == original_key)
            ).one_or_none()
            if image is not None:
                image.variants  # noqa: B018 - loaded before the session closes
            return image
