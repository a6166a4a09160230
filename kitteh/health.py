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
from kitteh.db import get_engine
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
    from kitteh.migrate import MIGRATE_FUNCTION, check_schema, migrate_fix

    try:
        # The app's own engine: its deadlines bound the check, and passing it says
        # the pool the pages use works.
        with get_engine(settings.database_url).connect() as connection:
            schema = check_schema(connection)
    except Exception as exc:
        log.warning("database check failed: %s", exc)
        return f"the database does not answer: {exc.__class__.__name__}", None
    if schema.problem:
        # The app runs here and on every stage and cannot tell which: both ways.
        return (
            f"the database schema is {schema.problem}; fix: {migrate_fix()} here, or "
            f"{migrate_fix('<stage>')} for a deployed stage (it invokes {MIGRATE_FUNCTION})"
        ), schema.current
    return OK, schema.current


def _check_storage(storage: Storage) -> str:
    try:
        storage.check()
    except Exception as exc:
        log.warning("storage check failed: %s", exc)
        return f"storage does not answer: {exc.__class__.__name__}"
    return OK
