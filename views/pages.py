"""HTML pages: upload form and gallery, image pages, media redirects, health.

Caching: a page is revalidated on every view (``no-cache``, with an ETag so that an
unchanged page costs a 304), since an image page changes when its image becomes
ready or is deleted; a page that holds this browser's CSRF token is ``private``,
and one that sets the session cookie (a flashed error, a handed delete token) is
``private, no-store``. Static files are versioned and kept for a year
(:mod:`views.assets`).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from kitteh import gallery, tokens, uploads
from kitteh.decoding import ImageError
from kitteh.errors import Rejected
from kitteh.health import check_health
from kitteh.imaging import VARIANT_KINDS
from kitteh.outages import RETRY_AFTER_SECONDS
from models import Image, ImageStatus
from views import get_session, get_settings, get_storage
from views.presenters import page_slug, share_links, upload_form

bp = Blueprint("pages", __name__)

GALLERY_PAGE_SIZE = 24
#: Session key of the delete tokens that form uploads hand to their image page, by name.
HANDED_TOKENS = "delete_tokens"
#: Tokens kept for pages not visited yet; the oldest go first (the cookie is small).
MAX_HANDED_TOKENS = 10
#: A redirect to a variant may be reused for a while: its target stays valid for at
#: least half the presigned URLs' lifetime (kitteh.storage).
VARIANT_REDIRECT_CACHE = "public, max-age=300"


@bp.get("/")
def index() -> Response:
    page = gallery.list_images(
        get_session(),
        limit=GALLERY_PAGE_SIZE,
        cursor=request.args.get("cursor") or None,
        newer=request.args.get("newer") or None,
        status=ImageStatus.READY,
    )
    response = make_response(render_template("index.html", page=page, form=upload_form()))
    response.headers["Cache-Control"] = "private, no-cache"  # the form holds a CSRF token
    return response


@bp.post("/")
def upload() -> Response | tuple[str, int]:
    """The form upload (CSRF-protected); on success, off to the image's page.

    The image's delete token rides to that page once, in the (signed, HttpOnly)
    session cookie; the page hands it to its script, which keeps it in the
    browser's localStorage as upload.js does for the uploads it makes itself.
    """
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form_error("Choose a picture to upload.", 400)
    delete_token = tokens.new_delete_token()
    try:
        image = uploads.upload_original(
            get_session(),
            get_storage(),
            stream=upload.stream,
            filename=upload.filename,
            delete_token=delete_token,
        )
    except (Rejected, ImageError) as exc:
        return _form_error(f"That upload did not work: {exc.reason}.", exc.status_code)
    handed = dict(session.get(HANDED_TOKENS) or {})
    handed[image.name] = delete_token
    session[HANDED_TOKENS] = dict(list(handed.items())[-MAX_HANDED_TOKENS:])
    return redirect(url_for("pages.image_page", slug=page_slug(image)), 303)


@bp.get("/livez")
def livez() -> tuple[Any, int]:
    """Answer as long as the code runs: Zappa's post-deploy check (``touch_path``).

    Zappa requests it after every deploy and update, before the migrate step, so it
    reads neither the database nor S3: a first deploy (no schema yet) and an update
    that ships a migration must both get past it. ``/healthz`` is the real check.
    """
    return jsonify(status="alive"), 200


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    """A body over Flask's limit, refused before the view ran: the form says so like the core."""
    reason = uploads.too_large_message(get_settings())
    return _form_error(f"That upload did not work: {reason}.", 413)


@bp.get("/healthz")
def healthz() -> tuple[Any, int, dict[str, str]]:
    report = check_health(get_settings(), get_storage())
    no_store = {"Cache-Control": "no-store"}
    if report.ok:
        return jsonify(status="ok", schema=report.schema_revision), 200, no_store
    answer = jsonify(status="error", error=report.error, checks=report.checks)
    return answer, 503, {**no_store, "Retry-After": str(RETRY_AFTER_SECONDS)}


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page says; a day's cache, as its name is fixed."""
    static = current_app.static_folder
    assert static is not None
    return send_from_directory(static, "favicon.ico", max_age=86_400)


@bp.get("/img/<name>/original")
def original(name: str) -> Response:
    """Download the original, under the name it was uploaded with, without its metadata.

    404 until the image is ready: before then its bytes are unverified.
    """
    session = get_session()
    image = _image_or_404(name)
    url = gallery.original_download_url(session, get_storage(), image)
    if url is None:
        abort(404)
    session.commit()  # an image settled before public originals existed just got one
    return redirect(url)


@bp.get("/img/<name>/<kind>")
def variant(name: str, kind: str) -> Response:
    """Redirect to a variant's object URL (404 until the image is ready)."""
    image = _image_or_404(name)
    found = image.variant(kind) if image.status == ImageStatus.READY else None
    if found is None:
        abort(404)
    response = redirect(get_storage().variant_url(found.key))
    response.headers["Cache-Control"] = VARIANT_REDIRECT_CACHE
    return response


@bp.get("/<slug>")
def image_page(slug: str) -> str | Response:
    """An image's page, at one address: other cases and the plain name redirect there."""
    image = gallery.find_by_page_slug(get_session(), slug)
    if image is None:
        abort(404)
    if slug != page_slug(image):
        # One URL per page, so shared links, caches and search engines agree.
        return redirect(url_for("pages.image_page", slug=page_slug(image)), 301)
    return render_template(
        "image.html",
        image=image,
        kinds=VARIANT_KINDS,
        share=share_links(image),
        form=upload_form(),
        delete_token=_take_handed_token(image),
    )


def _take_handed_token(image: Image) -> str | None:
    """Return the delete token a form upload left for this page, once."""
    handed = session.get(HANDED_TOKENS)
    if not handed or image.name not in handed:
        return None
    handed = dict(handed)
    token: str = handed.pop(image.name)
    if handed:
        session[HANDED_TOKENS] = handed
    else:
        session.pop(HANDED_TOKENS)
    return token


def _image_or_404(name: str) -> Image:
    image = gallery.get_image(get_session(), name)
    if image is None:
        abort(404)
    return image


def _form_error(message: str, status: int) -> tuple[str, int]:
    flash(message, "error")
    page = gallery.list_images(get_session(), limit=GALLERY_PAGE_SIZE, status=ImageStatus.READY)
    return render_template("index.html", page=page, form=upload_form()), status


@bp.after_request
def cache_control(response: Response) -> Response:
    """Give every page a Cache-Control; see the module's docstring."""
    if session.modified:
        response.headers["Cache-Control"] = "private, no-store"
    elif "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-cache"
    if (
        request.method == "GET"
        and response.status_code == 200
        and response.mimetype == "text/html"
        and "no-store" not in response.headers["Cache-Control"]
    ):
        response.add_etag()
        response.make_conditional(request)
    return response
