"""The scheduled maintenance function settles uploads that no event settled."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from handlers.maintenance import handler
from kitteh import gallery, uploads
from kitteh.db import get_sessionmaker, transaction
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from models import Image
from tests.support.lambda_events import load_event


def backdate(database_url: str, name: str, hours: float) -> None:
    with transaction(database_url) as session:
        session.execute(
            update(Image)
            .where(Image.name == name)
            .values(created_at=datetime.now(UTC) - timedelta(hours=hours))
        )


def status_of(database_url: str, name: str) -> tuple[str, str | None]:
    with transaction(database_url) as session:
        image = gallery.get_image(session, name)
        assert image is not None
        return image.status, image.error


def test_abandoned_lost_and_fresh_uploads(storage: Storage, database: str, photo: bytes) -> None:
    # A plain session, as a request has: these calls commit their rows themselves.
    with get_sessionmaker(database)() as session:
        # GIVEN a presigned upload the browser never sent ...
        abandoned = uploads.create_presigned_upload(
            session, storage, filename="gone.jpg", content_type="image/jpeg", size=10
        ).image.name
        # ... an upload whose object-created event was lost ...
        lost = uploads.upload_original(
            session, storage, stream=io.BytesIO(photo), filename="lost.jpg"
        ).name
        # ... and an upload still within its link's lifetime
        fresh = uploads.create_presigned_upload(
            session, storage, filename="soon.jpg", content_type="image/jpeg", size=10
        ).image.name
    backdate(database, abandoned, hours=2)
    backdate(database, lost, hours=2)

    # WHEN the hourly schedule fires
    result = handler(load_event("scheduled_event.json"), LambdaContext())

    # THEN the abandoned one fails with a reason, the lost one is processed, the fresh one waits
    assert result == {"ready": [lost], "failed": [abandoned], "pending": []}
    status, error = status_of(database, abandoned)
    assert status == "failed" and error and "never reached storage" in error
    assert status_of(database, lost) == ("ready", None)
    assert status_of(database, fresh) == ("pending", None)
    # Running again finds nothing left to do.
    assert handler({}, LambdaContext()) == {"ready": [], "failed": [], "pending": []}
