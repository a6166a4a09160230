"""Static files under versioned URLs, so that browsers may keep them for a year.

``url_for("static", filename="app.css")`` gives ``/static/app.css?v=<digest>``: the
first 12 hex digits of the file's SHA-256. A changed file gets a new URL, so the old
one can be cached for good (``immutable``); no build step renames anything, and a
page rendered before a deploy still gets the file it names, fresh. A request whose
``v`` is not the file's current digest is answered ``no-cache``.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, request
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

#: A year: what a browser may keep a versioned static file for.
LONG_CACHE = "public, max-age=31536000, immutable"
DIGEST_LENGTH = 12


def init_app(app: Flask) -> None:
    app.url_defaults(_add_version)
    app.after_request(_static_cache_control)


def static_version(filename: str) -> str | None:
    """Return the version of a file in the app's static folder, or None if there is none."""
    folder = current_app.static_folder
    path = safe_join(folder, filename) if folder else None
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    # Keyed on the modification time too: `make run` picks up an edited file.
    return _digest(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _digest(path: str, _mtime_ns: int, _size: int) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:DIGEST_LENGTH]


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = static_version(values["filename"])
        if version is not None:
            values["v"] = version


def _static_cache_control(response: Response) -> Response:
    if request.endpoint != "static" or request.view_args is None:
        return response
    asked = request.args.get("v")
    if asked and asked == static_version(request.view_args.get("filename", "")):
        response.headers["Cache-Control"] = LONG_CACHE
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response
