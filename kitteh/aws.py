"""boto3 clients built from :class:`~kitteh.config.Settings`.

Clients are created on demand, never at import time: moto's fixtures must start
before a client exists, and a Lambda cold start should not pay for clients the
invocation does not use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from kitteh.config import Settings

if TYPE_CHECKING:  # dev-only stubs (mypy-boto3-*): the runtime never imports them
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class CallBudget:
    """How long one S3 or SQS call may take, retries included (docs/reliability.md).

    boto3's own retry machinery ("standard" mode: backs off on throttling, 5xx and
    broken connections) does the retrying, so no loop of ours is needed. A call
    that gets no answer at all costs at most about
    ``attempts * (connect or read timeout) + backoff``: 2 x 3 s + <= 1 s = 7 s for
    :data:`INTERACTIVE`.
    """

    connect_timeout: float
    read_timeout: float
    #: Attempts in all, the first included.
    attempts: int

    @property
    def worst_case_seconds(self) -> float:
        """The longest a call can take when every attempt waits out its timeout."""
        waits = max(self.connect_timeout, self.read_timeout) * self.attempts
        # standard mode sleeps random() * 2**n before retry n (n = 0, 1, ...)
        backoff = sum(2**n for n in range(self.attempts - 1))
        return waits + backoff


#: A web request must answer within 10 s, with a 503 if a dependency hangs: a
#: request makes at most one S3 call that can hang (7 s) and signs URLs locally.
INTERACTIVE = CallBudget(connect_timeout=2, read_timeout=3, attempts=2)
#: The Lambda functions and the relay: more patience, still well inside the
#: resize function's 60 s timeout, so a hanging S3 ends in an error that is
#: retried, not in a function killed mid-way. SQS long polls must be shorter
#: than the read timeout (the relay polls for 2 s at most).
BACKGROUND = CallBudget(connect_timeout=3, read_timeout=6, attempts=3)
#: The deploy tools' control-plane calls (Lambda, CloudFormation...), run by a
#: person at a terminal: slow answers are normal there, and nobody waits on a page.
CONTROL = CallBudget(connect_timeout=5, read_timeout=30, attempts=6)


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


def _config(settings: Settings, endpoint_url: str | None, budget: CallBudget) -> Config:
    return Config(
        region_name=settings.region,
        signature_version="s3v4",
        retries={"mode": "standard", "total_max_attempts": budget.attempts},
        s3=_s3_addressing(endpoint_url),
        connect_timeout=budget.connect_timeout,
        read_timeout=budget.read_timeout,
    )


#: boto3's default session is not safe to build clients on from two threads at
#: once (the local stack's request threads and its relay thread both do).
_client_lock = threading.Lock()


def _client(service: str, settings: Settings, endpoint_url: str | None, budget: CallBudget) -> Any:
    with _client_lock:
        return boto3.client(
            service, endpoint_url=endpoint_url, config=_config(settings, endpoint_url, budget)
        )


def s3_client(
    settings: Settings, *, public: bool = False, budget: CallBudget = BACKGROUND
) -> S3Client:
    """Return an S3 client; ``public=True`` signs URLs for the browser endpoint."""
    endpoint = settings.browser_endpoint_url if public else settings.endpoint_url
    client: S3Client = _client("s3", settings, endpoint, budget)
    return client


def sqs_client(settings: Settings) -> SQSClient:
    """Return an SQS client for the event relay and the bootstrap."""
    client: SQSClient = _client("sqs", settings, settings.sqs_endpoint_url, BACKGROUND)
    return client


def control_client(service: str, settings: Settings) -> Any:
    """Return a client for the deploy tools' control-plane calls (Lambda, CloudFormation...)."""
    return _client(service, settings, settings.endpoint_url, CONTROL)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: ClientError) -> bool:
    """True when S3 says the object or bucket asked for does not exist.

    A GET names what is missing (``NoSuchKey``, ``NoSuchBucket``); a HEAD has no
    body to say it in, so its error is the bare status (``404`` or ``NotFound``).
    """
    return error_code(error) in {"404", "NotFound", "NoSuchKey", "NoSuchBucket"}


#: Error codes that say "not now" rather than "never": throttling and S3's own trouble.
_UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
)


def is_unavailable(error: BaseException) -> bool:
    """True when S3 or SQS could not be reached or could not serve: try again later.

    Connection refused or reset, timeouts, 5xx and throttling, once boto3's own
    retries are spent. Not a missing object, a refused signature or a bad request.
    """
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(error) in _UNAVAILABLE_CODES or int(status or 0) >= 500
    # botocore's ConnectionError: refused, DNS, TLS, connect timeout; HTTPClientError:
    # reset, closed mid-answer, read timeout.
    return isinstance(error, (BotoConnectionError, HTTPClientError))


def is_timeout(error: BaseException) -> bool:
    """True when the call ended because no answer came in time (it may have been done)."""
    return isinstance(error, (ReadTimeoutError, ConnectTimeoutError))
