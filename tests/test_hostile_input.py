"""Hostile input, on SQLite and on PostgreSQL: a clear 4xx every time, never a 500.

The app is built as in production (not TESTING), so an unexpected exception would
answer 500 here instead of being raised into the test. Every answer under ``/api``
is JSON with an ``error``; pages answer with the styled error page.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from kitteh.config import Settings
from kitteh.db import get_engine
from kitteh.migrate import upgrade
from kitteh.storage import Storage
from tests.support.postgres import throwaway_database


def cursor_of(value: int | str) -> str:
    """A cursor as the API makes them, around any value."""
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend for the module: no case here changes what another sees."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'kitteh.db'}"
        upgrade(url)
        yield url
        get_engine(url).dispose()
        return
    with throwaway_database("kitteh_hostile") as url:
        upgrade(url)
        yield url
        get_engine(url).dispose()


@pytest.fixture
def app(settings: Settings, storage: Storage, database_url: str) -> Flask:
    from dataclasses import replace

    on_database = replace(settings, database_url=database_url)
    return create_app(on_database, Storage(on_database, client=storage.client))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


API_QUERIES = [
    "limit=%C2%B2",  # "²": str.isdigit() says yes, int() says no
    "limit=%D9%A3",  # an Arabic-Indic 3
    "limit=-1",
    "limit=1e3",
    "limit=99999999999999999999999999",
    "cursor=abc",
    f"cursor={cursor_of(2**31)}",  # past PostgreSQL's integer
    f"cursor={cursor_of(2**63)}",  # past SQLite's integer
    f"cursor={cursor_of(2**64 + 1)}",
    f"cursor={cursor_of(-5)}",
    f"cursor={cursor_of('9' * 5000)}",  # past Python's int() digit limit
    "cursor=" + "A" * 100_000,
    "cursor=%00",
    "cursor=" + cursor_of("1\x00"),
    "status=%00",
    "status=" + "x" * 10_000,
]


@pytest.mark.parametrize("query", API_QUERIES)
def test_list_parameters_get_a_json_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/images?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize(
    "query", ["cursor=abc", f"cursor={cursor_of(2**31)}", f"cursor={cursor_of(2**63)}"]
)
def test_gallery_cursor_gets_a_400_page(client: FlaskClient, query: str) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    assert "cursor" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/a%00b",
        "/api/images/" + "A" * 5000,
        "/api/images/%F0%9F%90%B1",
    ],
)
def test_impossible_names_get_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize(
    "path", ["/a%00bKitty", "/img/a%00b/original", "/img/a%00b/tiny", "/img/Cat/%00"]
)
def test_impossible_names_get_a_404_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(nested(50_000), id="nested-50000"),
        pytest.param('{"a":' * 5_000 + "1" + "}" * 5_000, id="nested-objects-5000"),
        pytest.param(nested(900), id="nested-900"),
        pytest.param(json.dumps({"filename": "x" * 2_000_000}), id="two-megabytes"),
        pytest.param("\xff\xfe not utf-8", id="not-utf-8"),
        pytest.param('{"filename": "a.jpg", "size": NaN}', id="nan"),
    ],
)
def test_hostile_json_bodies_get_a_json_400(client: FlaskClient, body: str) -> None:
    response = client.post(
        "/api/uploads",
        data=body.encode("utf-8", "surrogateescape"),
        content_type="application/json",
    )
    assert response.status_code in (400, 413), response.get_data(as_text=True)[:300]
    assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"filename": "a\x00b.jpg", "content_type": "image/jpeg", "size": 10}, 201),
        ({"filename": "a.jpg", "content_type": "image/jpeg\x00", "size": 10}, 415),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10**30}, 413),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": -(10**30)}, 400),
        ({"filename": ["a.jpg"], "content_type": "image/jpeg", "size": 10}, 400),
        ({"filename": "a.jpg", "content_type": {"x": 1}, "size": 10}, 400),
    ],
)
def test_hostile_fields_get_a_clear_answer(
    client: FlaskClient, body: dict[str, Any], status: int
) -> None:
    response = client.post("/api/uploads", json=body)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status >= 400:
        assert response.get_json()["error"]
    else:
        assert "\x00" not in response.get_json()["original_filename"]
