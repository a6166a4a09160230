"""HTML pages: upload form and gallery, image pages, media redirects, health."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from kitteh import images
from kitteh.health import check_health
from kitteh.imaging import VARIANT_KINDS, ImageError
from models import Image, ImageStatus
from views import get_session, get_settings, get_storage, page_slug, picture_sources

bp = Blueprint("pages", __name__)

GALLERY_PAGE_SIZE = 24


@bp.get("/")
def index() -> str:
    page = images.list_images(
        get_session(),
        limit=GALLERY_PAGE_SIZE,
        cursor=request.args.get("cursor") or None,
        status=ImageStatus.READY,
    )
    return render_template("index.html", page=page)


@bp.post("/")
def upload() -> Response | tuple[str, int]:
    """The form upload (CSRF-protected); on success, off to the image's page."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form_error("Choose a picture to upload.", 400)
    try:
        image = images.upload_original(
            get_session(), get_storage(), stream=upload.stream, filename=upload.filename
        )
    except (images.Rejected, ImageError) as exc:
        return _form_error(f"That upload did not work: {exc.reason}.", exc.status_code)
    return redirect(url_for("pages.image_page", slug=page_slug(image)), 303)


@bp.get("/healthz")
def healthz() -> tuple[Any, int]:
    report = check_health(get_settings(), get_storage())
    if report.ok:
        return jsonify(status="ok", schema=report.schema_revision), 200
    return jsonify(status="error", error=report.error), 503


@bp.get("/img/<name>/original")
def original(name: str) -> Response:
    """Download the original, under the name it was uploaded with."""
    image = _image_or_404(name)
    filename = image.original_filename or image.name
    return redirect(
        get_storage().original_download_url(image.original_key, filename, image.content_type)
    )


@bp.get("/img/<name>/<kind>")
def variant(name: str, kind: str) -> Response:
    """Redirect to a variant's object URL (404 until the image is ready)."""
    image = _image_or_404(name)
    found = image.variant(kind) if image.status == ImageStatus.READY else None
    if found is None:
        abort(404)
    return redirect(get_storage().variant_url(found.key))


@bp.app_template_filter()
def word_breaks(name: str) -> Markup:
    """Let a long CamelCase name wrap between its words, not inside them."""
    return Markup(re.sub(r"(?<=[a-z])(?=[A-Z])", "<wbr>", str(escape(name))))


@bp.app_template_global()
def variant_url(image: Image, kind: str) -> str | None:
    found = image.variant(kind)
    return get_storage().variant_url(found.key) if found is not None else None


# templates/macros.html's picture(): AVIF and WebP <source>s, then the fallback <img>.
bp.add_app_template_global(picture_sources)


@bp.get("/<slug>")
def image_page(slug: str) -> str:
    image = images.find_by_page_slug(get_session(), slug)
    if image is None:
        abort(404)
    return render_template("image.html", image=image, kinds=VARIANT_KINDS)


def _image_or_404(name: str) -> Image:
    image = images.get_image(get_session(), name)
    if image is None:
        abort(404)
    return image


def _form_error(message: str, status: int) -> tuple[str, int]:
    flash(message, "error")
    page = images.list_images(get_session(), limit=GALLERY_PAGE_SIZE, status=ImageStatus.READY)
    return render_template("index.html", page=page), status
