"""The web app's entry points: thin views over :mod:`kitteh`.

This package's own module holds only the request-scoped accessors the others share:
the app's :class:`~kitteh.config.Settings` and :class:`~kitteh.storage.Storage`
(``app.extensions["kitteh.settings"]`` and ``["kitteh.storage"]``, set by
``app.create_app``) and this request's SQLAlchemy session, opened on first use and
closed at teardown (:func:`close_session`).

- :mod:`views.pages`, :mod:`views.api`: the routes; each parses the request, calls the
  core, shapes the answer with a presenter, and answers.
- :mod:`views.presenters`: what the pages and the JSON show of an image.
- :mod:`views.filters`: the template filters and globals, registered in one place.
- :mod:`views.assets`, :mod:`views.security`: versioned static URLs; security headers.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from kitteh.config import Settings
from kitteh.db import get_sessionmaker
from kitteh.storage import Storage


def get_settings() -> Settings:
    """Return the settings the app was built on."""
    settings: Settings = current_app.extensions["kitteh.settings"]
    return settings


def get_storage() -> Storage:
    """Return the storage the app was built on (S3 through boto3)."""
    storage: Storage = current_app.extensions["kitteh.storage"]
    return storage


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = get_sessionmaker(get_settings().database_url)()
    session: Session = g.db_session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    """Close this request's session, if it opened one (the app's teardown)."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
