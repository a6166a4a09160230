"""The URLs browsers are handed: regional virtual-hosted on AWS, path style elsewhere.

A browser POSTs a large upload straight to the URL of a presigned POST. S3's legacy
global host (``<bucket>.s3.amazonaws.com``) answers for a bucket outside us-east-1
with 307 redirects until DNS catches up (which breaks a CORS POST), and regions
launched after March 2019 refuse it. So on AWS every URL must name the bucket's
region. Signing needs no network: these run offline with fake credentials.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from kitteh.config import Settings
from kitteh.storage import Storage

#: us-east-1 (S3's default), an old region, and two opt-in regions launched after 2019.
REGIONS = ("us-east-1", "eu-west-1", "eu-south-1", "ap-east-1")


def browser_urls(storage: Storage) -> dict[str, str]:
    """Every kind of URL the app gives a browser, by what it is for."""
    return {
        "presigned POST": storage.presigned_post("originals/abc", "image/jpeg", 1024)["url"],
        "variant GET": storage.variant_url("variants/abc/large.jpg"),
        "original download": storage.original_download_url("originals/abc", "cat.jpg", None),
    }


@pytest.mark.parametrize("region", REGIONS)
def test_on_aws_urls_name_the_bucket_and_its_region(aws_env: None, region: str) -> None:
    storage = Storage(Settings(bucket="kitteh-images", region=region))

    for purpose, url in browser_urls(storage).items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname) == (
            "https",
            f"kitteh-images.s3.{region}.amazonaws.com",
        ), purpose


@pytest.mark.parametrize("region", REGIONS)
def test_a_separate_variants_bucket_gets_its_own_virtual_host(aws_env: None, region: str) -> None:
    storage = Storage(Settings(bucket="kitteh-images", variants_bucket="kitteh-v", region=region))

    host = urlsplit(storage.variant_url("variants/abc/tiny.jpg")).hostname
    assert host == f"kitteh-v.s3.{region}.amazonaws.com"


def test_a_dotted_bucket_name_falls_back_to_the_regional_path(aws_env: None) -> None:
    # A virtual host "my.images.s3..." would not match S3's wildcard TLS certificate.
    storage = Storage(Settings(bucket="my.images", region="eu-south-1"))

    for purpose, url in browser_urls(storage).items():
        parts = urlsplit(url)
        assert parts.hostname == "s3.eu-south-1.amazonaws.com", purpose
        assert parts.path.split("/")[1] == "my.images", purpose


def test_custom_endpoints_keep_path_style(aws_env: None) -> None:
    # LocalStack, moto and MinIO rarely resolve <bucket>.<host> names.
    settings = Settings(bucket="kitteh-images", endpoint_url="http://127.0.0.1:4566")

    for purpose, url in browser_urls(Storage(settings)).items():
        parts = urlsplit(url)
        assert (parts.netloc, parts.path.split("/")[1]) == ("127.0.0.1:4566", "kitteh-images"), (
            purpose
        )

    public = replace(settings, public_endpoint_url="http://s3.localhost.test:9000")
    for purpose, url in browser_urls(Storage(public)).items():
        parts = urlsplit(url)
        assert (parts.netloc, parts.path.split("/")[1]) == (
            "s3.localhost.test:9000",
            "kitteh-images",
        ), purpose
