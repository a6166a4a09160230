"""Migrate function: brings the database schema to a revision, as a step of its own.

``zappa invoke <stage> handlers.migrate.handler`` runs it after a deploy;
``make migrate`` and the embedded stack run the same code. The app never
migrates on start-up.
"""

from __future__ import annotations

import logging
from typing import Any

from kitteh.config import Settings
from kitteh.logs import configure_logging, inject_lambda_context
from kitteh.migrate import MigrationError, upgrade

log = logging.getLogger(__name__)


@inject_lambda_context
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """Upgrade to head, or to ``event["revision"]``; return ``{"from": ..., "to": ...}``.

    :raise MigrationError: a migration failed. Its message names the reason and the
        revision the schema stands at now (the last one that succeeded). Raised, not
        returned: Lambda then reports a function error, which is what makes
        ``zappa invoke`` (and so ``make migrate STAGE=...``) exit non-zero.
    """
    configure_logging()
    revision = str((event or {}).get("revision") or "head")
    settings = Settings.from_env()
    try:
        result = upgrade(settings.database_url, revision)
    except MigrationError as exc:
        log.error("migration failed: %s", exc)
        raise
    log.info("migrated from %s to %s", result.from_revision, result.to_revision)
    return result.as_dict()
