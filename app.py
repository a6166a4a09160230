"""The Kitteh web app: upload page, gallery, image pages and the JSON API.

``create_app`` is the application factory; the module-level ``app`` is what
Zappa (``app_function: app.app``) and ``flask --app app`` serve. The app never
migrates the database: ``/healthz`` says so when the schema is behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from cli import kitteh_command
from kitteh.aws import INTERACTIVE
from kitteh.config import Settings
from kitteh.decoding import ImageError
from kitteh.errors import Rejected
from kitteh.logs import configure_logging
from kitteh.outages import RETRY_AFTER_SECONDS, unavailable_dependency
from kitteh.storage import Storage
from kitteh.uploads import too_large_message
from views import api, assets, close_session, filters, pages, security

csrf = CSRFProtect()

#: Headings of the HTML error pages; other codes get Werkzeug's name ("Method Not Allowed").
ERROR_TITLES = {
    400: "That request did not make sense",
    404: "No kitty here",
    413: "That file is too large",
    500: "Something went wrong",
    503: "Kitteh is busy",
}

#: Room for the multipart envelope around a file of the maximum size.
_FORM_OVERHEAD_BYTES = 64 * 1024


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    test_config: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the app on ``settings`` and ``storage``, each read from the environment if None.

    :param settings: what the app runs on; :meth:`Settings.from_env` when None.
    :param storage: S3 through boto3 (tests hand one with injected clients); when None,
        a :class:`Storage` on ``settings`` with the interactive deadlines.
    :param test_config: Flask configuration keys only (``TESTING``, ...), applied last.
    """
    configure_logging()
    if settings is None:
        settings = Settings.from_env()
    if storage is None:
        # Short S3 deadlines: a page must answer within 10 s, a 503 if S3 hangs.
        storage = Storage(settings, budget=INTERACTIVE)

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key or _development_secret_key(),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + _FORM_OVERHEAD_BYTES,
        # The session cookie only carries the CSRF token and flashed messages.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(test_config or {})
    app.extensions["kitteh.settings"] = settings
    app.extensions["kitteh.storage"] = storage

    security.init_app(app, settings)
    csrf.init_app(app)
    # The API is cookie-less: no browser session for a forged request to ride on.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.teardown_appcontext(close_session)
    assets.init_app(app)
    filters.init_app(app)
    # Unhandled exceptions reach it too, as an InternalServerError.
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Rejected, _rejected)
    app.register_error_handler(ImageError, _rejected)
    app.cli.add_command(kitteh_command)
    return app


def _development_secret_key() -> str:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        # Every Lambda container would draw its own key and reject the others'
        # CSRF tokens: a deployment must share one.
        raise RuntimeError("SECRET_KEY must be set in the function's environment")
    return secrets.token_hex(32)


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    description = error.description or error.name
    # An exception no view handled arrives as a 500 carrying it: a dependency that is
    # down or too slow is a 503 the client may retry, not a fault of ours.
    dependency = unavailable_dependency(getattr(error, "original_exception", None))
    if code == 500 and dependency is not None:
        answer = _error_answer(
            503, f"the {dependency} is not available right now; please try again shortly"
        )
        answer[0].headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return answer
    if code == 413:
        # Werkzeug refuses an oversized body before any view runs; its stock
        # sentence would not name the limit that the core's refusals name.
        description = too_large_message(current_app.extensions["kitteh.settings"])
    elif code >= 500:
        description = "something went wrong on our side; please try again"
    return _error_answer(code, description)


def _rejected(error: Rejected | ImageError) -> Any:
    """Input the core refused (a bad cursor, a file that is no image): the reason, as a 4xx."""
    return _error_answer(error.status_code, error.reason)


def _error_answer(code: int, description: str) -> tuple[Response, int]:
    """JSON ``{"error": ...}`` under ``/api``, the styled error page elsewhere."""
    if _wants_json():
        return jsonify(error=description), code
    if code == 404 and description == NotFound.description:
        description = "there is no page at this address"  # not Werkzeug's stock sentence
    title = ERROR_TITLES.get(code, HTTP_STATUS_CODES.get(code, "Error"))
    page = render_template("error.html", code=code, title=title, description=description)
    return make_response(page), code


app = create_app()
