"""The template filters and globals, registered on the app in one place (:func:`init_app`).

Each is registered under its function's name, the name the templates use:
``word_breaks``, ``filesize`` and ``sentence`` are filters; ``box_of``, ``variant_url``
and ``picture_sources`` (a presenter, :mod:`views.presenters`) are globals.
"""

from __future__ import annotations

import re

from flask import Flask
from markupsafe import Markup, escape

from kitteh import uploads
from models import Image
from views import get_storage
from views.presenters import BOXES, picture_sources


def init_app(app: Flask) -> None:
    """Give every template of ``app`` the filters and globals below."""
    for template_filter in (word_breaks, filesize, sentence):
        app.add_template_filter(template_filter)
    # picture_sources and variant_url serve templates/macros.html's picture(): AVIF and
    # WebP <source>s, then the fallback <img>.
    for template_global in (box_of, variant_url, picture_sources):
        app.add_template_global(template_global)


def word_breaks(name: str) -> Markup:
    """Let a long CamelCase name wrap between its words, not inside them."""
    return Markup(re.sub(r"(?<=[a-z])(?=[A-Z])", "<wbr>", str(escape(name))))


def filesize(count: int | None) -> str:
    """A byte count as people read it ("1.5 MB"); empty for an unknown size."""
    return uploads.format_bytes(count) if count is not None else ""


def sentence(text: str | None) -> str:
    """Make a core reason ("the file is not an image") a sentence: capital, full stop."""
    text = (text or "").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def box_of(kind: str) -> int:
    """The box size of a variant kind, for captions: 300 for "large"."""
    return BOXES[kind]


def variant_url(image: Image, kind: str) -> str | None:
    """The object URL of the image's ``kind`` variant, or None if it has none."""
    found = image.variant(kind)
    return get_storage().variant_url(found.key) if found is not None else None
