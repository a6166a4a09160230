"""Memorable names: their shape, their number, and uniqueness under collisions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from kitteh import gallery, names, uploads
from kitteh.db import transaction
from kitteh.uploads import NameSpaceExhausted, create_image


@pytest.fixture
def session(database: str) -> Iterator[Session]:
    with transaction(database) as session:
        yield session


def test_names_are_adjective_colour_breed_in_camel_case() -> None:
    for _ in range(200):
        name = names.generate_name()
        assert re.fullmatch(r"([A-Z][a-z]+)+", name), name
    adjective, colour, breed = (names.words(kind) for kind in names.WORD_LISTS)
    assert "Sublime" in adjective and "Dandelion" in colour and "UkrainianLevkoy" in breed


def test_word_lists_are_clean() -> None:
    seen: set[str] = set()
    for kind in names.WORD_LISTS:
        listed = names.words(kind)
        folded = {w.casefold() for w in listed}
        assert len(folded) == len(listed), f"{kind} has duplicates"
        assert not (folded & seen), f"{kind} shares words with another list"
        seen |= folded
        assert all(re.fullmatch(r"[A-Z][a-zA-Z]{1,23}", w) for w in listed), kind


def test_collisions_stay_rare_at_a_million_images() -> None:
    # The chance that a fresh draw is taken when a million names are: under 1%.
    assert 1_000_000 / names.name_space_size() < 0.01


@pytest.mark.parametrize(
    ("slug", "name"),
    [
        ("FooBarKitty", "FooBar"),
        ("FooBar", "FooBar"),
        ("foobarkitty", "foobar"),
        ("Kitty", "Kitty"),
    ],
)
def test_page_slugs(slug: str, name: str) -> None:
    assert names.parse_page_name(slug) == name


@pytest.mark.parametrize("slug", ["a", "../etc", "Foo.Bar", "x" * 200, "Föö"])
def test_malformed_slugs(slug: str) -> None:
    assert names.parse_page_name(slug) is None


def test_a_taken_name_is_drawn_again(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["JollyAmberSiamese", "jollyambersiamese", "JOLLYAMBERSIAMESE", "CalmTealSphynx"])
    monkeypatch.setattr(names, "generate_name", lambda: next(draws))

    first = create_image(session, original_key="originals/1", original_filename=None)
    second = create_image(session, original_key="originals/2", original_filename=None)
    session.flush()

    # The unique constraint on the folded name refused the same name in any case.
    assert (first.name, second.name) == ("JollyAmberSiamese", "CalmTealSphynx")
    assert gallery.get_image(session, "JOLLYambersiamese") is first


def test_retries_are_bounded(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[str] = []

    def always_the_same_name() -> str:
        draws.append("SameOldName")
        if len(draws) > 100:  # fail, rather than hang, if the bound is gone
            raise AssertionError("create_image kept drawing")
        return "SameOldName"

    monkeypatch.setattr(names, "generate_name", always_the_same_name)
    create_image(session, original_key="originals/1", original_filename=None)
    with pytest.raises(NameSpaceExhausted, match=f"after {uploads.MAX_NAME_ATTEMPTS} draws"):
        create_image(session, original_key="originals/2", original_filename=None)

    # One draw for the first image, then exactly the bound for the second.
    assert len(draws) == 1 + uploads.MAX_NAME_ATTEMPTS == 9
    # The savepoints kept the first image.
    assert gallery.get_image(session, "SameOldName") is not None


def test_other_integrity_errors_are_not_mistaken_for_name_collisions(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    create_image(session, original_key="originals/same", original_filename=None)
    with pytest.raises(IntegrityError):
        create_image(session, original_key="originals/same", original_filename=None)
