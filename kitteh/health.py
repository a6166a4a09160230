"""Is this deployment able to serve? Storage answers and the schema is current."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kitteh.config import Settings
from kitteh.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    error: str | None = None
    schema_revision: str | None = None


def check_health(settings: Settings, storage: Storage) -> HealthReport:
    """Check the database schema and both buckets; say plainly what is wrong."""
    # Alembic costs a quarter of a second to import: only health checks pay for it,
    # not every cold start of the app.
    from kitteh.migrate import schema_status

    try:
        current, head = schema_status(settings.database_url)
    except Exception as exc:
        log.warning("database check failed: %s", exc)
        return HealthReport(False, f"the database does not answer: {exc.__class__.__name__}")
    if current != head:
        return HealthReport(
            False,
            f"the database schema is at revision {current or 'none'} but the app needs {head}; "
            "run the migrate function (make migrate, or "
            "zappa invoke <stage> handlers.migrate.handler)",
            current,
        )
    try:
        storage.check()
    except Exception as exc:
        log.warning("storage check failed: %s", exc)
        return HealthReport(False, f"storage does not answer: {exc.__class__.__name__}", current)
    return HealthReport(True, None, current)
