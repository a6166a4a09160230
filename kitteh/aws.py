"""boto3 clients built from :class:`~kitteh.config.Settings`.

Clients are created on demand, never at import time: moto's fixtures must start
before a client exists, and a Lambda cold start should not pay for clients the
invocation does not use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from kitteh.config import Settings

if TYPE_CHECKING:  # dev-only stubs (mypy-boto3-*): the runtime never imports them
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: boto3's own retry machinery ("standard" mode backs off on throttling and 5xx),
#: so no retry loop of ours is needed around S3 or SQS calls.
_RETRIES = {"mode": "standard", "max_attempts": 5}


def _s3_addressing(endpoint_url: str | None) -> dict[str, str]:
    """How S3 URLs name the bucket: the region's virtual host on AWS, a path elsewhere.

    Custom endpoints (LocalStack, moto, MinIO) rarely resolve virtual-hosted bucket
    names. On AWS, botocore's "auto" signs URLs for the legacy global host
    ``<bucket>.s3.amazonaws.com`` whatever the region: a new bucket outside
    us-east-1 answers it with 307 redirects (which break a browser's CORS POST) and
    regions launched after March 2019 refuse it. "virtual" with the regional
    us-east-1 endpoint gives ``<bucket>.s3.<region>.amazonaws.com`` everywhere
    (botocore itself falls back to the regional path for dotted bucket names).
    """
    if endpoint_url:
        return {"addressing_style": "path"}
    return {"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}


def _config(settings: Settings, endpoint_url: str | None) -> Config:
    return Config(
        region_name=settings.region,
        signature_version="s3v4",
        retries=_RETRIES,
        s3=_s3_addressing(endpoint_url),
        connect_timeout=5,
        read_timeout=30,
    )


#: boto3's default session is not safe to build clients on from two threads at
#: once (the local stack's request threads and its relay thread both do).
_client_lock = threading.Lock()


def _client(service: str, settings: Settings, endpoint_url: str | None) -> Any:
    with _client_lock:
        return boto3.client(
            service, endpoint_url=endpoint_url, config=_config(settings, endpoint_url)
        )


def s3_client(settings: Settings, *, public: bool = False) -> S3Client:
    """Return an S3 client; ``public=True`` signs URLs for the browser endpoint."""
    endpoint = settings.browser_endpoint_url if public else settings.endpoint_url
    client: S3Client = _client("s3", settings, endpoint)
    return client


def sqs_client(settings: Settings) -> SQSClient:
    """Return an SQS client for the event relay and the bootstrap."""
    client: SQSClient = _client("sqs", settings, settings.endpoint_url)
    return client


def control_client(service: str, settings: Settings) -> Any:
    """Return a client for the deploy tools' control-plane calls (Lambda, CloudFormation...)."""
    return _client(service, settings, settings.endpoint_url)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: ClientError) -> bool:
    """True when S3 says the object or bucket asked for does not exist.

    A GET names what is missing (``NoSuchKey``, ``NoSuchBucket``); a HEAD has no
    body to say it in, so its error is the bare status (``404`` or ``NotFound``).
    """
    return error_code(error) in {"404", "NotFound", "NoSuchKey", "NoSuchBucket"}
