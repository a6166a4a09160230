"""The JSON API under ``/api``.

Every error answers ``{"error": "..."}``: rejections from the core here, HTTP
errors (404, 405, 413, 500) in ``app.py``'s handlers, which also see errors
raised before a view is chosen.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request, url_for

from kitteh import deletion, gallery, tokens, uploads
from models import Image
from views import get_session, get_storage
from views.presenters import image_resource

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: Largest JSON body the API reads; a grant request is a few hundred bytes.
MAX_JSON_BYTES = 64 * 1024


@bp.post("/images")
def upload_image() -> tuple[Any, int, dict[str, str]]:
    """Upload an original as multipart field ``file``; it is processed in the background.

    The answer carries the image's ``delete_token``: the only time it is shown.
    """
    upload = request.files.get("file")
    if upload is None:
        abort(400, "a multipart field named 'file' is required")
    delete_token = tokens.new_delete_token()
    image = uploads.upload_original(
        get_session(),
        get_storage(),
        stream=upload.stream,
        filename=upload.filename,
        delete_token=delete_token,
    )
    document = image_resource(image)
    document.update(delete_token=delete_token)
    return _created(image, document)


@bp.post("/uploads")
def create_upload() -> tuple[Any, int, dict[str, str]]:
    """Hand out a presigned POST, so that the file goes straight to S3, not through the app.

    The answer carries the image's ``delete_token``, as ``POST /api/images``'s does.
    """
    body = _json_body()
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"filename", "content_type", "size"}')
    delete_token = tokens.new_delete_token()
    upload = uploads.create_presigned_upload(
        get_session(),
        get_storage(),
        filename=body.get("filename"),
        content_type=body.get("content_type"),
        size=body.get("size"),
        delete_token=delete_token,
    )
    document = image_resource(upload.image)
    document.update(url=upload.url, fields=upload.fields, delete_token=delete_token)
    return _created(upload.image, document)


@bp.get("/images")
def list_images() -> Any:
    raw_limit = request.args.get("limit", str(DEFAULT_PAGE_SIZE))
    # isdecimal() alone takes "²" and Arabic-Indic digits, which int() then refuses.
    limit = int(raw_limit) if raw_limit.isascii() and raw_limit.isdecimal() else 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        abort(400, f"'limit' must be a whole number from 1 to {MAX_PAGE_SIZE}")
    page = gallery.list_images(
        get_session(),
        limit=limit,
        cursor=request.args.get("cursor") or None,
        status=request.args.get("status") or None,
    )
    return jsonify(items=[image_resource(image) for image in page.items], next=page.next_cursor)


@bp.get("/images/<name>")
def get_image(name: str) -> Any:
    image = gallery.get_image(get_session(), name)
    if image is None:
        abort(404, f"no image is named {name!r}")
    return jsonify(image_resource(image))


@bp.delete("/images/<name>")
def delete_image(name: str) -> tuple[str, int]:
    """Delete an image: ``Authorization: Bearer <delete_token>`` → 204; no or a wrong token → 403.

    A second call answers 404: the row that held the token's hash is gone, so there
    is nothing left to check a token against, and nothing more to remove.
    """
    credentials = request.authorization
    token = credentials.token if credentials and credentials.type == "bearer" else None
    session = get_session()
    deletion.delete_with_token(session, get_storage(), name, token)
    session.commit()
    return "", 204


def _json_body() -> Any:
    """The request's JSON, or None when it is not JSON; never an exception of the parser's.

    The body is capped (a grant request is a few hundred bytes), and a document
    nested too deep for the parser is refused like any other bad JSON: Python's
    parser raises RecursionError there, which is not a ValueError.
    """
    request.max_content_length = MAX_JSON_BYTES
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def _created(image: Image, document: dict[str, Any]) -> Any:
    location = url_for("api.get_image", name=image.name, _external=True)
    # The answer holds a secret (the delete token): no cache may keep it.
    return jsonify(document), 201, {"Location": location, "Cache-Control": "no-store"}
