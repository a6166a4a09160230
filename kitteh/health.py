"""Is this deployment able to serve? The database answers at the current schema, storage answers.

Both dependencies are checked at the same time, each within its own deadlines
(kitteh.db, kitteh.aws), so a health check answers within the longer of the two
even when both hang, and says which of them is wrong.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kitteh.config import Settings
from kitteh.storage import Storage

log = logging.getLogger(__name__)

OK = "ok"


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    error: str | None = None
    schema_revision: str | None = None
    #: Each dependency ("database", "storage"): "ok", or what is wrong with it.
    checks: dict[str, str] = field(default_factory=dict)


def check_health(settings: Settings, storage: Storage) -> HealthReport:
    """Check the database schema and both buckets; say plainly what is wrong."""
    with ThreadPoolExecutor(2, thread_name_prefix="kitteh-health") as pool:
        database = pool.submit(_check_database, settings)
        store = pool.submit(_check_storage, storage)
        (database_state, revision), storage_state = database.result(), store.result()
    checks = {"database": database_state, "storage": storage_state}
    problems = [state for state in checks.values() if state != OK]
    return HealthReport(not problems, "; ".join(problems) or None, revision, checks)


def _check_database(settings: Settings) -> tuple[str, str | None]:
    # Alembic costs a quarter of a second to import: only health checks pay for it,
    # not every cold start of the app.
    from kitteh.migrate import schema_status

    try:
        current, head = schema_status(settings.database_url)
    except Exception as exc:
        log.warning("database check failed: %s", exc)
        return f"the database does not answer: {exc.__class__.__name__}", None
    if current != head:
        return (
            f"the database schema is at revision {current or 'none'} but the app needs {head}; "
            "run the migrate function (make migrate, or "
            "zappa invoke <stage> handlers.migrate.handler)"
        ), current
    return OK, current


def _check_storage(storage: Storage) -> str:
    try:
        storage.check()
    except Exception as exc:
        log.warning("storage check failed: %s", exc)
        return f"storage does not answer: {exc.__class__.__name__}"
    return OK
