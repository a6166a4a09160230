"""S3 faults during uploads on LocalStack + PostgreSQL, with S3's own events doing the rest.

The app talks to LocalStack's S3 through a :class:`~localcloud.faults.FaultyProxy`;
the relay and the resize function talk to it directly, so that S3's notification of
an object stored while the app's answer was lost reaches the function as it would
on AWS. What each client is told must match what is left once the events are done.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from kitteh.aws import INTERACTIVE
from kitteh.storage import Storage
from localcloud.faults import FaultyProxy
from localcloud.harness import LOCALSTACK_URL, wait_for
from tests.localstack.helpers import LANDSCAPE, assert_ready_with_variants, wait_until_processed
from tests.localstack.stack import Stack
from tests.support.faulty_stack import ANSWER_WITHIN_SECONDS, timed

pytestmark = [pytest.mark.localstack, pytest.mark.postgres]


@pytest.fixture
def proxy() -> Iterator[FaultyProxy]:
    host, port = LOCALSTACK_URL.removeprefix("http://").split(":")
    with FaultyProxy(host, int(port), name="localstack-s3") as proxy:
        yield proxy


@pytest.fixture
def faulty_app(stack: Stack, proxy: FaultyProxy) -> Flask:
    """The app as deployed, its S3 behind the proxy; everything else as the stack's."""
    settings = replace(stack.settings, endpoint_url=f"http://{proxy.address}")
    return create_app(settings, Storage(settings, budget=INTERACTIVE))


def post(app: Flask, photo: bytes, filename: str) -> tuple[int, dict[str, str], dict]:  # type: ignore[type-arg]
    with app.test_client().post(
        "/api/images",
        data={"file": (io.BytesIO(photo), filename)},
        content_type="multipart/form-data",
        follow_redirects=True,
    ) as response:
        return response.status_code, dict(response.headers), response.get_json()


def new_originals(stack: Stack, before: set[str]) -> list[str]:
    listed = stack.s3.list_objects_v2(Bucket=stack.settings.bucket, Prefix="originals/")
    return [item["Key"] for item in listed.get("Contents", []) if item["Key"] not in before]


def originals(stack: Stack) -> set[str]:
    return set(new_originals(stack, set()))


def test_an_original_stored_while_every_answer_is_lost_leaves_no_ghost(
    stack: Stack,
    faulty_app: Flask,
    proxy: FaultyProxy,
    client: FlaskClient,
    photos: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN S3 storing what it is sent while every answer to the app is lost
    photo = (photos / "exif-Landscape_1.jpg").read_bytes()
    images_before = stack.image_count()
    storage = faulty_app.extensions["kitteh.storage"]
    keys: list[str] = []
    make_key = storage.new_original_key
    monkeypatch.setattr(storage, "new_original_key", lambda: keys.append(make_key()) or keys[-1])
    with proxy.fault("lose_answers"):
        answer = timed(lambda: post(faulty_app, photo, "ghost.jpg"))
    status, headers, body = answer.value
    assert answer.seconds < ANSWER_WITHIN_SECONDS

    # WHEN S3's events for the object it stored (once per PUT attempt) reached the function
    [key] = keys
    deliveries = wait_for(lambda: stack.invoker.for_key(key), timeout=30, what=f"{key}'s event")
    stack.settle()
    assert all(d.error is None for d in stack.invoker.for_key(key)), deliveries
    delivery = deliveries[0]

    # THEN what the client was told is what exists. Which answer it gets depends on
    # whether the event settled the image before the app gave up on S3: then the
    # upload stands; else it was withdrawn, and the event removed the object.
    if status == 201:
        assert_ready_with_variants(wait_until_processed(client, body["name"]), LANDSCAPE)
        assert stack.image_count() == images_before + 1
    else:
        assert (status, int(headers["Retry-After"])) == (503, 3), body
        assert isinstance(delivery.result, dict)
        assert delivery.result["processed"][0]["status"] == "ignored"
        assert not stack.object_exists(key)
        assert stack.image_by_key(key) is None
        assert stack.image_count() == images_before


def test_an_original_whose_put_answers_were_lost_stands_and_becomes_ready(
    stack: Stack, faulty_app: Flask, proxy: FaultyProxy, client: FlaskClient, photos: Path
) -> None:
    # GIVEN the answers to both attempts of the PUT lost, then S3 answering again
    photo = (photos / "exif-Landscape_3.jpg").read_bytes()
    proxy.lose_next_answers(2)
    answer = timed(lambda: post(faulty_app, photo, "stored.jpg"))

    # THEN storage was asked, holds the object, so the upload stands and gets ready
    status, _headers, body = answer.value
    assert status == 201, body
    assert_ready_with_variants(wait_until_processed(client, body["name"]), LANDSCAPE)


@pytest.mark.parametrize("fault", ["refuse", "reset", "stall"])
def test_an_upload_while_s3_is_down_is_a_503_and_stores_nothing(
    stack: Stack, faulty_app: Flask, proxy: FaultyProxy, photos: Path, fault: str
) -> None:
    photo = (photos / "exif-Portrait_0.jpg").read_bytes()
    images_before, before = stack.image_count(), originals(stack)
    marker = f"down-{uuid.uuid4().hex[:6]}.jpg"
    with proxy.fault(fault):  # type: ignore[arg-type]
        answer = timed(lambda: post(faulty_app, photo, marker))

    status, headers, body = answer.value
    assert status == 503 and int(headers["Retry-After"]) > 0, body
    assert answer.seconds < ANSWER_WITHIN_SECONDS
    # A PUT the stall held lands once it is lifted; its event must come before settle's canary.
    proxy.wait_until_quiet()
    stack.settle()
    assert new_originals(stack, before) == []
    assert stack.image_count() == images_before
