"""Maintenance function, on a schedule: settle uploads that no event settled.

``zappa_settings.json`` runs it hourly (a CloudWatch Events rule); locally,
``make reconcile``. Each image is settled in a transaction of its own, so one
storage hiccup leaves the others done and itself pending for the next run.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from kitteh import processing
from kitteh.config import Settings
from kitteh.db import transaction
from kitteh.logs import configure_logging, inject_lambda_context
from kitteh.storage import get_storage

log = logging.getLogger(__name__)

#: An upload may start just before its presigned POST expires and take a while.
GRACE = timedelta(minutes=15)


@inject_lambda_context
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """Settle images pending for longer than an upload link lives; report what became of them."""
    configure_logging()
    storage = get_storage(Settings.from_env())
    older_than = timedelta(seconds=storage.settings.presign_expiry) + GRACE
    with transaction(storage.settings.database_url) as session:
        stale = processing.stale_pending_ids(session, older_than=older_than)
    settled: dict[str, list[str]] = {"ready": [], "failed": [], "pending": []}
    for image_id in stale:
        try:
            with transaction(storage.settings.database_url) as session:
                image = processing.settle_pending(session, storage, image_id)
                if image is not None:
                    settled[image.status].append(image.name)
        except Exception:
            log.exception("image %s could not be settled; the next run retries", image_id)
    log.info("settled %s", {status: len(names) for status, names in settled.items()})
    return settled
