"""Security headers on every answer, and a session cookie that is Secure behind HTTPS.

The Content-Security-Policy is the contract the pages and their scripts are written
to (docs/reliability.md): scripts only from this origin (files under ``/static``, no
inline ``<script>``, no ``on…=`` handlers, no ``eval``), styles only from files (no
``style=`` attributes), images from here, ``data:`` URIs and the media origin,
``fetch``/XHR to here and to the S3 endpoint that presigned POSTs go to, and no
framing at all.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from kitteh.config import Settings
from kitteh.storage import Storage
from views import get_storage

#: Browsers keep to HTTPS for a year once they have seen it over HTTPS.
HSTS = "max-age=31536000"

_FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # The CSP's frame-ancestors says it to current browsers; this to older ones.
    "X-Frame-Options": "DENY",
    # Page URLs carry image names, which are enough to fetch a picture: never sent
    # to another origin (S3, a CDN, a link followed off the site).
    "Referrer-Policy": "same-origin",
}


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose cookie is Secure whenever the request is HTTPS.

    ``SESSION_COOKIE_SECURE`` is all or nothing; a fixed True would break the form on
    ``http://127.0.0.1`` (the browser drops the cookie, so the CSRF token never
    matches), a fixed False sends it in clear text behind HTTPS.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app) or request.is_secure)


def content_security_policy(storage: Storage) -> str:
    """The policy for ``storage``'s media and upload origins."""
    origins = storage.browser_origins()
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self' data: {origins.media}",
        "connect-src": f"'self' {origins.upload}",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def init_app(app: Flask, settings: Settings) -> None:
    """Add the headers to every answer, the cookie rule, and trust proxies as configured.

    The policy names the origins of the app's own storage (``views.get_storage``), read
    on the first answer, so ``app.extensions["kitteh.storage"]`` may be set after this.
    """
    app.session_interface = _SessionInterface()
    if settings.trusted_proxies > 0:
        # Only the scheme: the host and client address stay what the socket says.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=0, x_proto=settings.trusted_proxies, x_host=0, x_port=0
        )
    app.after_request(_add_headers)
    app.extensions["kitteh.csp"] = None  # made on the first answer, not at import (cold starts)


def _add_headers(response: Response) -> Response:
    for name, value in _FIXED_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", _policy())
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _policy() -> str:
    policy: str | None = current_app.extensions["kitteh.csp"]
    if policy is None:
        policy = content_security_policy(get_storage())
        current_app.extensions["kitteh.csp"] = policy
    return policy
