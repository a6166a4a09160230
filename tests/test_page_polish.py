"""The pages' polish, over HTTP: share links and previews, caching, favicon, gallery pages.

What only a browser can show (copy buttons, the layout, dark mode) is in tests/browser.
"""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.resize import handler
from kitteh.config import Settings
from kitteh.storage import Storage
from localcloud.runtime import LambdaContext
from tests.support.lambda_events import make_s3_event
from tests.support.uploads import grant_key
from views.assets import LONG_CACHE


class Head(HTMLParser):
    """The <meta> and <link> tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "meta" and "content" in found:
            self.meta[found.get("property") or found.get("name", "")] = found["content"]
        if tag == "link" and "rel" in found:
            self.links.setdefault(found["rel"], found.get("href", ""))


def head_of(text: str) -> Head:
    parser = Head()
    parser.feed(text)
    return parser


def upload(client: FlaskClient, photo: bytes) -> dict[str, Any]:
    response = client.post("/api/images", data={"file": (io.BytesIO(photo), "cat.jpg")})
    assert response.status_code == 201
    return dict(response.get_json())


def process_all(settings: Settings, storage: Storage) -> None:
    listing = storage.client.list_objects_v2(Bucket=settings.bucket)
    keys = [item["Key"] for item in listing.get("Contents", [])]
    handler(make_s3_event(settings.bucket, *keys), LambdaContext())


@pytest.fixture
def ready(client: FlaskClient, settings: Settings, storage: Storage, photo: bytes) -> str:
    name = upload(client, photo)["name"]
    process_all(settings, storage)
    return str(name)


def test_ready_page_has_open_graph_and_twitter_tags_with_lasting_absolute_urls(
    client: FlaskClient, ready: str
) -> None:
    head = head_of(client.get(f"/{ready}Kitty").text)
    base = "http://localhost"
    assert head.links["canonical"] == f"{base}/{ready}Kitty"
    assert head.meta["og:title"] == ready
    assert head.meta["og:url"] == f"{base}/{ready}Kitty"
    assert head.meta["og:image"] == f"{base}/img/{ready}/large"  # not an expiring URL
    assert (head.meta["og:image:width"], head.meta["og:image:height"]) == ("300", "200")
    assert head.meta["og:image:type"] == "image/jpeg"
    assert head.meta["twitter:card"] == "summary_large_image"
    assert client.get(head.meta["og:image"]).status_code == 302


def test_pending_page_has_a_title_but_no_image_to_preview(
    client: FlaskClient, photo: bytes
) -> None:
    name = upload(client, photo)["name"]
    head = head_of(client.get(f"/{name}Kitty").text)
    assert head.meta["og:title"] == name
    assert "og:image" not in head.meta
    assert head.meta["twitter:card"] == "summary"


def test_share_snippets_use_the_lasting_links(client: FlaskClient, ready: str) -> None:
    page = client.get(f"/{ready}Kitty").text
    values = dict(re.findall(r'<input id="share-([a-z]+)"[^>]*value="([^"]*)"', page))
    base = "http://localhost"
    assert values["page"] == f"{base}/{ready}Kitty"
    assert values["monstrous"] == f"{base}/img/{ready}/monstrous"
    assert values["large"] == f"{base}/img/{ready}/large"
    assert values["tiny"] == f"{base}/img/{ready}/tiny"
    assert values["markdown"] == f"[![{ready}]({base}/img/{ready}/large)]({base}/{ready}Kitty)"
    snippet = html.unescape(values["html"])
    assert snippet == (
        f'<a href="{base}/{ready}Kitty"><img src="{base}/img/{ready}/large"'
        f' alt="{ready}" width="300" height="200"></a>'
    )


def test_pages_say_how_to_cache_them(client: FlaskClient, ready: str) -> None:
    first = client.get("/")  # sets the session cookie (its CSRF token)
    assert first.headers["Cache-Control"] == "private, no-store"
    again = client.get("/")
    assert again.headers["Cache-Control"] == "private, no-cache"

    page = client.get(f"/{ready}Kitty")
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["ETag"]
    unchanged = client.get(f"/{ready}Kitty", headers={"If-None-Match": page.headers["ETag"]})
    assert unchanged.status_code == 304

    redirect = client.get(f"/img/{ready}/large")
    assert redirect.headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/healthz").headers["Cache-Control"] == "no-store"
    assert client.get("/NoSuchNameKitty").headers["Cache-Control"] == "no-cache"


def test_static_files_have_versioned_urls_kept_for_a_year(client: FlaskClient) -> None:
    page = client.get("/").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert {"app.css", "upload.js", "delete-tokens.js", "favicon.png"} <= {
        re.sub(r"\?.*", "", u).removeprefix("/static/") for u in urls
    }
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        assert cache_control(client, url) == LONG_CACHE
    # A stale or missing version is served, but not kept.
    assert cache_control(client, "/static/app.css?v=000000000000") == "no-cache"
    assert cache_control(client, "/static/app.css") == "no-cache"


def cache_control(client: FlaskClient, url: str) -> str:
    with client.get(url) as response:  # a file response: closed after use
        assert response.status_code == 200, url
        return str(response.headers["Cache-Control"])


def test_a_changed_static_file_gets_a_new_url(app: Flask, tmp_path: Any) -> None:
    from views.assets import static_version

    app.static_folder = str(tmp_path)
    (tmp_path / "x.css").write_text("a {}")
    with app.test_request_context():
        before = static_version("x.css")
        (tmp_path / "x.css").write_text("a { color: red }")
        assert static_version("x.css") != before
        assert static_version("missing.css") is None
        assert static_version("../etc/passwd") is None


def test_favicon_ico_is_served(client: FlaskClient) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
        assert response.headers["Cache-Control"] == "public, max-age=86400"


def test_the_404_page_is_ours_in_html_and_json_under_api(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "No kitty here" in page.text
    assert "There is no page at this address." in page.text
    assert "The requested URL was not found" not in page.text  # Werkzeug's stock text
    assert 'href="/#gallery"' in page.text and 'href="/#upload"' in page.text
    api = client.get("/api/no/such/thing")
    assert api.status_code == 404 and api.is_json and api.get_json()["error"]


def test_failed_page_says_what_to_do_next(
    client: FlaskClient, settings: Settings, storage: Storage
) -> None:
    storage.put_original(grant_key(storage), b"not a picture", "image/jpeg")
    process_all(settings, storage)
    (failed,) = client.get("/api/images?status=failed").get_json()["items"]
    page = client.get(f"/{failed['name']}Kitty").text
    assert "This upload could not be processed" in page
    assert (
        "Try again with another picture: JPEG, PNG, WebP, GIF, HEIC, HEIF or AVIF, up to 25 MB."
        in page
    )
    assert 'href="/#upload"' in page
    assert 'class="share"' not in page


def test_gallery_pages_link_newer_and_older(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes, monkeypatch: Any
) -> None:
    import views.pages

    monkeypatch.setattr(views.pages, "GALLERY_PAGE_SIZE", 2)
    names = [upload(client, photo)["name"] for _ in range(5)]
    process_all(settings, storage)
    newest_first = names[::-1]

    def shown(page: str) -> list[str]:
        return re.findall(r'<a href="/([A-Za-z]+)Kitty">', page)

    def link(page: str, rel: str) -> str | None:
        found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
        return found.group(1).replace("&amp;", "&") if found else None

    first = client.get("/").text
    assert shown(first) == newest_first[:2]
    assert link(first, "prev") is None
    second = client.get(link(first, "next")).text  # type: ignore[arg-type]
    assert shown(second) == newest_first[2:4]
    third = client.get(link(second, "next")).text  # type: ignore[arg-type]
    assert shown(third) == newest_first[4:]
    assert link(third, "next") is None

    back = client.get(link(third, "prev")).text  # type: ignore[arg-type]
    assert shown(back) == newest_first[2:4]
    top = client.get(link(back, "prev")).text  # type: ignore[arg-type]
    assert shown(top) == newest_first[:2]
    assert link(top, "prev") is None and link(top, "next") is not None


class InlineCode(HTMLParser):
    """What a Content-Security-Policy without 'unsafe-inline' would refuse to run."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        if tag == "script":
            self._in_script = "src" not in names
        if tag == "style":
            self.found.append("<style> element")
        self.found += [
            f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")
        ]
        self.found += [
            f"{tag} javascript: URL" for _n, v in attrs if (v or "").startswith("javascript:")
        ]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:40]}")


def test_pages_carry_no_inline_script_handler_or_style(
    client: FlaskClient, settings: Settings, storage: Storage, photo: bytes, ready: str
) -> None:
    storage.put_original(grant_key(storage), b"not a picture", "image/jpeg")
    process_all(settings, storage)
    pending = upload(client, photo)["name"]
    (failed,) = client.get("/api/images?status=failed").get_json()["items"]
    pages = (f"/{ready}Kitty", f"/{pending}Kitty", f"/{failed['name']}Kitty", "/nope/")
    for path in ("/", *pages, "/?cursor=abc"):  # the last two: the 404 and 400 pages
        checker = InlineCode()
        checker.feed(client.get(path).text)
        assert checker.found == [], f"{path}: {checker.found}"
