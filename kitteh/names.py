"""Memorable image names: adjective + colour + cat breed, in CamelCase.

``SublimeDandelionUkrainianLevkoy`` is easier to say, type and remember than a
UUID, and still unique: the database's unique constraint on the folded name is
the guarantee (see :func:`kitteh.uploads.create_image`); the size of the name
space only keeps collisions, and so retries, rare.
"""

from __future__ import annotations

import re
import secrets
from functools import cache
from pathlib import Path

WORDS_DIR = Path(__file__).resolve().parent / "words"
WORD_LISTS = ("adjectives", "colours", "breeds")

#: The page suffix the old app used: ``/SublimeDandelionUkrainianLevkoyKitty``.
PAGE_SUFFIX = "Kitty"

_NAME_SHAPE = re.compile(r"[A-Za-z]{3,100}")


@cache
def words(kind: str) -> tuple[str, ...]:
    """Return the word list ``kind`` (one of :data:`WORD_LISTS`)."""
    text = (WORDS_DIR / f"{kind}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def name_space_size() -> int:
    """Return how many distinct names :func:`generate_name` can make."""
    size = 1
    for kind in WORD_LISTS:
        size *= len(words(kind))
    return size


def generate_name() -> str:
    """Return a random memorable name, drawn with the OS's CSPRNG.

    Names are public URLs; an unpredictable draw keeps anyone from walking the
    gallery's private corners by guessing the next name.
    """
    return "".join(secrets.choice(words(kind)) for kind in WORD_LISTS)


def could_be_name(text: str) -> bool:
    """True when ``text`` has the shape of a name (letters only); nothing else can be one.

    Lookups check this first: a NUL byte or a megabyte of text reaches no query
    (PostgreSQL refuses NUL in text, which would be a 500, not a 404).
    """
    return _NAME_SHAPE.fullmatch(text) is not None


def name_key(name: str) -> str:
    """Fold a name for storage and lookup: names are matched case-insensitively."""
    return name.casefold()


def parse_page_name(slug: str) -> str | None:
    """Return the name in a page slug (``FooKitty`` or ``Foo``), or None if malformed."""
    if not could_be_name(slug):
        return None
    if slug.lower().endswith(PAGE_SUFFIX.lower()) and len(slug) > len(PAGE_SUFFIX):
        return slug[: -len(PAGE_SUFFIX)]
    return slug
