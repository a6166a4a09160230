"""Which dependency an exception says is unavailable: the database, storage, or neither.

The web app answers such an exception with 503 and ``Retry-After`` (the request was
fine; a dependency was down or too slow to answer within its deadline), anything
else with 500. The rule lives here, in the core, so that it is the same for the
pages, the API and anyone else who asks.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kitteh.aws import is_unavailable

DATABASE = "database"
STORAGE = "storage"

#: Seconds a client is asked to wait before trying again: about as long as a
#: brief outage (a failover, a restart) lasts, and long enough not to pile on.
RETRY_AFTER_SECONDS = 3


def unavailable_dependency(error: BaseException | None) -> str | None:
    """:data:`DATABASE` or :data:`STORAGE` when ``error`` means "unavailable, try again"."""
    if error is None:
        return None
    if isinstance(error, (OperationalError, PoolTimeout)):
        return DATABASE
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return DATABASE
    if is_unavailable(error):
        return STORAGE
    return None
