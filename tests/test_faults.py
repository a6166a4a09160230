"""S3 and PostgreSQL behind a fault-injecting proxy: during upload, resize and page reads.

Each case asserts what the client is told, how long that took, and the final state
of rows and objects: no ghost (an image nobody was given), no orphan row, nothing
lost that a client was told is stored. S3 is moto's server (a real HTTP endpoint,
so the proxy sits on the wire), PostgreSQL the local server.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy.engine import make_url

from kitteh.config import Settings
from kitteh.migrate import upgrade
from localcloud.faults import FaultyProxy, Mode
from localcloud.harness import environment
from tests.support.faulty_stack import (
    ANSWER_WITHIN_SECONDS,
    FaultyStack,
    Timed,
    all_timed,
    app_for,
    make_buckets,
    timed,
)
from tests.support.postgres import throwaway_database


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def stack_env(endpoint: str, database_url: str) -> dict[str, str | None]:
    run = f"kitteh-faults-{uuid.uuid4().hex[:8]}"
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": endpoint,
        "KITTEH_BUCKET": run,
        "KITTEH_VARIANTS_BUCKET": None,
        "KITTEH_PUBLIC_ENDPOINT_URL": None,
        "KITTEH_MEDIA_BASE_URL": None,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "faults",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def s3_faults(moto_endpoint: str, tmp_path: Path, aws_env: None) -> Iterator[FaultyStack]:
    """S3 behind the proxy; SQLite beside it."""
    host, port = moto_endpoint.removeprefix("http://").split(":")
    database_url = f"sqlite:///{tmp_path / 'kitteh.db'}"
    with FaultyProxy(host, int(port), name="s3") as proxy:
        with environment(stack_env(f"http://{proxy.address}", database_url)):
            upgrade(database_url)
            settings = Settings.from_env()
            direct = make_buckets(settings, moto_endpoint)
            with app_for(settings) as app:
                yield FaultyStack(settings, proxy, app, direct, database_url)


@pytest.fixture
def db_faults(moto_endpoint: str, aws_env: None) -> Iterator[FaultyStack]:
    """PostgreSQL behind the proxy; S3 (moto) beside it."""
    with throwaway_database("kitteh_faults") as direct_url:
        upgrade(direct_url)
        url = make_url(direct_url)
        with FaultyProxy(url.host or "127.0.0.1", url.port or 5432, name="postgres") as proxy:
            proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
            with environment(stack_env(moto_endpoint, proxied)):
                settings = Settings.from_env()
                direct = make_buckets(settings, moto_endpoint)
                with app_for(settings) as app:
                    yield FaultyStack(settings, proxy, app, direct, direct_url)


def post_photo(stack: FaultyStack, photo: bytes, filename: str = "cat.jpg") -> Timed:
    return timed(posting(stack, photo, filename))


def posting(stack: FaultyStack, photo: bytes, filename: str = "cat.jpg") -> Callable[[], Any]:
    def post() -> Any:
        with stack.client.post(
            "/api/images",
            data={"file": (io.BytesIO(photo), filename)},
            content_type="multipart/form-data",
            follow_redirects=True,  # closes the spooled request body with the answer
        ) as response:
            return response.status_code, dict(response.headers), response.get_json()

    return post


def assert_unavailable(answer: Timed, *, json: bool = True) -> None:
    """503 with Retry-After, in time; a JSON error under /api, a page elsewhere."""
    assert answer.error is None, repr(answer.error)
    status, headers, body = answer.value
    assert status == 503, (status, body)
    assert int(headers["Retry-After"]) > 0
    if json:
        assert body["error"]
    assert answer.seconds < ANSWER_WITHIN_SECONDS, f"answered after {answer.seconds:.1f} s"


def assert_consistent(stack: FaultyStack, answers: list[Timed]) -> None:
    """Final state after every event: an image exactly for each 201, no object without one.

    First, what the proxy held lands (or is dropped): a PUT a stall held reaches S3 once
    the stall is lifted, and S3 sends an event for it like any other, so it must be in
    the bucket before the events are delivered, not at some moment after.
    """
    stack.proxy.wait_until_quiet()
    for outcome in stack.deliver_all():
        assert outcome.error is None, repr(outcome.error)
    given = {a.value[2]["name"] for a in answers if a.value and a.value[0] == 201}
    rows = stack.rows()
    assert {name for name, _status, _key in rows} == given, ("ghost or lost", rows, given)
    assert all(status == "ready" for _name, status, _key in rows), rows
    assert sorted(stack.original_keys()) == sorted(key for *_, key in rows), "orphan object"


# Uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["refuse", "reset", "stall"])
def test_upload_while_s3_is_down_answers_503_and_leaves_nothing(
    s3_faults: FaultyStack, photo: bytes, fault: Mode
) -> None:
    with s3_faults.proxy.fault(fault):
        answer = post_photo(s3_faults, photo)

    assert_unavailable(answer)
    assert_consistent(s3_faults, [answer])
    assert s3_faults.rows() == []


def test_upload_whose_answer_s3_loses_is_never_a_ghost(
    s3_faults: FaultyStack, photo: bytes
) -> None:
    # GIVEN S3 that stores what it is sent but whose every answer is lost
    with s3_faults.proxy.fault("lose_answers"):
        answer = post_photo(s3_faults, photo)

    # THEN the client is told to try again, in time ...
    assert_unavailable(answer)
    # ... and once S3's event for the stored object has come and gone, no image
    # exists that the client was not given, and no object is left behind
    assert_consistent(s3_faults, [answer])


def test_upload_stored_though_its_put_answers_were_lost_is_a_201(
    s3_faults: FaultyStack, photo: bytes
) -> None:
    # GIVEN the answers to every attempt of the PUT are lost, then S3 answers again
    s3_faults.proxy.lose_next_answers(2)
    answer = post_photo(s3_faults, photo)

    # THEN storage is asked what it holds: the object is there, so the upload stands
    assert answer.value[0] == 201, answer.value
    assert_consistent(s3_faults, [answer])


# Resize --------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["refuse", "reset", "lose_answers"])
def test_resize_while_s3_fails_raises_for_a_retry_and_the_retry_makes_it_ready(
    s3_faults: FaultyStack, photo: bytes, fault: Mode
) -> None:
    answer = post_photo(s3_faults, photo)
    assert answer.value[0] == 201
    [key] = s3_faults.original_keys()

    with s3_faults.proxy.fault(fault):
        failed = s3_faults.deliver(key)

    # The invocation fails (so Lambda or SQS retries it) well within its timeout,
    # and records nothing half-done: the image is still pending, not failed
    assert failed.error is not None
    assert failed.seconds < 30, f"the resize function gave up after {failed.seconds:.1f} s"
    assert [status for _n, status, _k in s3_faults.rows()] == ["pending"]
    assert_consistent(s3_faults, [answer])


# Page reads ------------------------------------------------------------------------


def get(stack: FaultyStack, path: str) -> Timed:
    return timed(getting(stack, path))


def getting(stack: FaultyStack, path: str) -> Callable[[], Any]:
    def call() -> Any:
        with stack.client.get(path) as response:
            body = response.get_json(silent=True) if response.is_json else response.text
            return response.status_code, dict(response.headers), body

    return call


def test_health_names_storage_when_s3_hangs_and_pages_still_answer(
    s3_faults: FaultyStack, photo: bytes
) -> None:
    answer = post_photo(s3_faults, photo)
    assert_consistent(s3_faults, [answer])

    with s3_faults.proxy.fault("stall"):
        health, gallery, listing = all_timed(
            getting(s3_faults, "/healthz"),
            getting(s3_faults, "/"),
            getting(s3_faults, "/api/images"),
        )

    assert_unavailable(health)
    assert "storage" in health.value[2]["error"]
    assert health.value[2]["checks"]["database"] == "ok"
    # Listing pages sign URLs locally: they need no answer from S3
    assert gallery.value[0] == 200 and listing.value[0] == 200
    assert answer.value[2]["name"] in gallery.value[2]


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["refuse", "reset", "stall"])
def test_every_page_answers_503_in_time_while_postgres_is_down(
    db_faults: FaultyStack, photo: bytes, fault: Mode
) -> None:
    # GIVEN a warm app: its pool holds connections to the server
    assert get(db_faults, "/api/images").value[0] == 200

    with db_faults.proxy.fault(fault):
        api, one, gallery, page, health, upload = all_timed(
            getting(db_faults, "/api/images"),
            getting(db_faults, "/api/images/SomeName"),
            getting(db_faults, "/"),
            getting(db_faults, "/SomeNameKitty"),
            getting(db_faults, "/healthz"),
            posting(db_faults, photo),
        )

    for answer in (api, one, health, upload):
        assert_unavailable(answer)
    for answer in (gallery, page):
        assert_unavailable(answer, json=False)
        assert "text/html" in answer.value[1]["Content-Type"]
    assert "database" in health.value[2]["error"]
    # Nothing was stored for the refused upload, and the app recovers by itself
    assert db_faults.original_keys() == []
    assert get(db_faults, "/api/images").value[0] == 200


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["refuse", "stall"])
def test_resize_while_postgres_is_down_raises_for_a_retry(
    db_faults: FaultyStack, photo: bytes, fault: Mode
) -> None:
    answer = post_photo(db_faults, photo)
    assert answer.value[0] == 201
    [key] = db_faults.original_keys()

    with db_faults.proxy.fault(fault):
        failed = db_faults.deliver(key)

    assert failed.error is not None
    assert failed.seconds < 30, f"the resize function gave up after {failed.seconds:.1f} s"
    assert_consistent(db_faults, [answer])
