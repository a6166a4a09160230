"""Uploads as the app makes them, for tests that call the core or the resize function directly."""

from __future__ import annotations

import io

from sqlalchemy import NullPool, create_engine, select
from sqlalchemy.orm import Session

from kitteh import uploads
from kitteh.config import Settings
from kitteh.db import get_sessionmaker, transaction
from kitteh.storage import Storage
from models import Image


def put_original(storage: Storage, data: bytes, filename: str = "cat.jpg") -> Image:
    """Register and store an original the way the form upload does, in a request's session."""
    with get_sessionmaker(storage.settings.database_url)() as session:
        return uploads.upload_original(session, storage, stream=io.BytesIO(data), filename=filename)


def grant_key(storage: Storage, key: str | None = None, filename: str = "cat.jpg") -> str:
    """Commit a pending image for ``key`` (a fresh one by default), as a grant does.

    The object is not written: the test puts whatever bytes it wants there, as a
    browser posting to a presigned URL would. A given ``key`` stands for keys the
    app does not make itself (spaces, accents), to exercise event decoding.
    """
    return grant(storage.settings.database_url, key or storage.new_original_key(), filename)


def grant(database_url: str, key: str, filename: str = "cat.jpg") -> str:
    """Commit a pending image for ``key`` in the database at ``database_url``.

    On an engine of its own, closed at once: the database may be dropped before the
    process's cached engines are.
    """
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with Session(engine) as session, session.begin():
            uploads.create_image(session, original_key=key, original_filename=filename)
    finally:
        engine.dispose()
    return key


def images_in(settings: Settings) -> list[Image]:
    with transaction(settings.database_url) as session:
        return list(session.scalars(select(Image).order_by(Image.id)))
