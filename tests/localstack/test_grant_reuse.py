"""A presigned grant posted three times to LocalStack's S3, as in the attack that found it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.localstack.helpers import (
    LANDSCAPE,
    assert_ready_with_variants,
    get_resource,
    post_to_s3,
    request_upload,
    wait_for,
    wait_until_processed,
)
from tests.localstack.stack import Stack

pytestmark = [pytest.mark.localstack, pytest.mark.postgres]

HTML = b"<!doctype html><title>gotcha</title><script>alert(document.cookie)</script>"


def test_a_grant_used_three_times_never_shows_one_thing_and_serves_another(
    stack: Stack, client: FlaskClient, photos: Path
) -> None:
    landscape = (photos / "exif-Landscape_3.jpg").read_bytes()
    portrait = (photos / "exif-Portrait_5.jpg").read_bytes()
    grant = request_upload(client, "cat.jpg", max(len(landscape), len(portrait)))
    key, name = grant["fields"]["key"], grant["name"]

    def posted(data: bytes, times: int) -> None:
        # S3 takes every post: the policy (key, type, size) holds each time
        response = post_to_s3(grant, data)
        assert response.status_code == 204, response.text
        wait_for(
            lambda: len(stack.invoker.for_key(key)) >= times,
            timeout=30,
            what=f"delivery {times} of {key}",
        )

    # GIVEN the first post, made ready
    posted(landscape, 1)
    assert_ready_with_variants(wait_until_processed(client, name), LANDSCAPE)

    # WHEN the same grant posts another picture, then an HTML file
    posted(portrait, 2)
    after_second = get_resource(client, name)
    posted(HTML, 3)
    after_third = get_resource(client, name)

    # THEN the image is refused once its original was replaced: no variant of the
    # first picture is shown for the second, and nothing is served as its original
    for resource in (after_second, after_third):
        assert resource["status"] == "failed", resource
        assert "replaced" in resource["error"]
        assert resource["variants"] == {}
    assert client.get(f"/img/{name}/original").status_code == 404
    assert all(d.error is None for d in stack.invoker.for_key(key))
    # AND no variant object is left behind to be found by its URL
    stem = key.removeprefix(stack.settings.originals_prefix)
    listed = stack.s3.list_objects_v2(
        Bucket=stack.settings.variants_bucket_name, Prefix=f"variants/{stem}/"
    )
    assert listed.get("KeyCount", 0) == 0
