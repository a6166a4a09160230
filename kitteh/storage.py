"""Where originals and variants live: any S3-compatible store, through boto3.

Keys are always made here, never taken from a user's file name: originals go
under ``originals/`` (the only prefix that triggers the resize function) and
variants under ``variants/``, so writing a variant can never re-trigger it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError

from kitteh import formats
from kitteh.aws import BACKGROUND, CallBudget, is_not_found, s3_client
from kitteh.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

#: Variants never change once written (a re-run writes the same bytes), so
#: browsers and CDNs may keep them for a year.
VARIANT_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Signed variant URLs kept per process; beyond this many, the cache starts over.
MAX_CACHED_URLS = 20_000


class ObjectMissing(LookupError):
    """The object is not (or no longer) in the bucket."""


class StorageError(RuntimeError):
    """S3 answered, but did not do what was asked."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    data: bytes
    content_type: str | None
    size: int
    #: S3's ETag, without its quotes: changes whenever the object is written anew.
    etag: str


class Storage:
    """Originals and variants in S3, and the URLs browsers use to reach them."""

    def __init__(
        self,
        settings: Settings,
        client: S3Client | None = None,
        public_client: S3Client | None = None,
        *,
        budget: CallBudget = BACKGROUND,
    ) -> None:
        self.settings = settings
        self._client = client
        self._public_client = public_client
        #: How long each S3 call may take (kitteh.aws): the web app's are short.
        self.budget = budget
        self._signed_urls: dict[str, tuple[str, float]] = {}

    @cached_property
    def client(self) -> S3Client:
        return self._client or s3_client(self.settings, budget=self.budget)

    @cached_property
    def public_client(self) -> S3Client:
        """Signs URLs for browsers, with the endpoint they can reach."""
        if self._public_client is not None:
            return self._public_client
        if self.settings.browser_endpoint_url == self.settings.endpoint_url:
            return self.client
        return s3_client(self.settings, public=True)

    # Keys -------------------------------------------------------------------

    def new_original_key(self) -> str:
        return f"{self.settings.originals_prefix}{uuid.uuid4().hex}"

    def is_original_key(self, key: str) -> bool:
        return key.startswith(self.settings.originals_prefix)

    def is_granted_shape(self, key: str) -> bool:
        """True for a key of :meth:`new_original_key`'s making (``originals/<32 hex>``)."""
        stem = key.removeprefix(self.settings.originals_prefix)
        return key != stem and _GRANTED_STEM.fullmatch(stem) is not None

    def variant_key(self, original_key: str, kind: str, extension: str) -> str:
        """Derive a variant's key from its original's, so re-runs overwrite, not add."""
        return f"{self.variant_prefix(original_key)}{kind}.{extension}"

    def variant_prefix(self, original_key: str) -> str:
        """Return the prefix under which everything made from an original lives, in any format.

        Its variants, their modern-format sources and its public original: deleting
        the prefix deletes them all.
        """
        stem = original_key.removeprefix(self.settings.originals_prefix)
        if not stem:
            # ``variants//`` would be harmless, but such a key is a caller's mistake.
            raise ValueError(f"not an original key: {original_key!r}")
        return f"{self.settings.variants_prefix}{stem}/"

    def public_original_key(self, original_key: str, content_type: str) -> str:
        """The original as served: metadata stripped, beside the variants."""
        return self.variant_key(original_key, "original", formats.of(content_type).extension)

    # Objects ----------------------------------------------------------------

    def put_original(self, key: str, body: Any, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.settings.bucket, Key=key, Body=body, ContentType=content_type
        )

    def get_original(self, key: str) -> StoredObject:
        """Read an original whole (they are bounded by the upload limit).

        :raise ObjectMissing: no such object.
        """
        try:
            response = self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                raise ObjectMissing(key) from exc
            raise
        data = response["Body"].read()
        etag = response.get("ETag", "").strip('"')
        return StoredObject(key, data, response.get("ContentType"), len(data), etag)

    def has_original(self, key: str) -> bool:
        return self.original_size(key) is not None

    def original_size(self, key: str) -> int | None:
        """The stored original's size in bytes, or None when there is none."""
        try:
            response = self.client.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return int(response.get("ContentLength", 0))

    def put_variant(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.settings.variants_bucket_name,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl=VARIANT_CACHE_CONTROL,
        )

    def delete_original(self, key: str) -> None:
        """Delete an original; one that is gone already is no error (S3 answers 204 alike)."""
        self.client.delete_object(Bucket=self.settings.bucket, Key=key)

    def delete_variants(self, original_key: str) -> int:
        """Delete every object under an original's variants prefix; return how many there were.

        :raise StorageError: S3 refused to delete some of them.
        """
        bucket = self.settings.variants_bucket_name
        deleted = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=self.variant_prefix(original_key)
        )
        for page in pages:
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", [])
            ]
            if not keys:
                continue
            # A listing page holds at most 1,000 keys: what one DeleteObjects takes.
            answer = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": keys, "Quiet": True}
            )
            if answer.get("Errors"):
                failed = ", ".join(f"{e.get('Key')}: {e.get('Code')}" for e in answer["Errors"])
                raise StorageError(f"S3 kept some variants: {failed}")
            deleted += len(keys)
        return deleted

    def delete_variant(self, key: str) -> None:
        """Delete one variant object (S3 answers alike whether or not it was there)."""
        self.client.delete_object(Bucket=self.settings.variants_bucket_name, Key=key)

    def check(self) -> None:
        """Raise unless both buckets answer (for health checks)."""
        self.client.head_bucket(Bucket=self.settings.bucket)
        if self.settings.variants_bucket_name != self.settings.bucket:
            self.client.head_bucket(Bucket=self.settings.variants_bucket_name)

    # URLs for browsers ------------------------------------------------------

    def browser_origins(self) -> BrowserOrigins:
        """Where browsers load variants from and post direct uploads to (for the CSP).

        Read from URLs signed the way the real ones are, so the origins follow the
        addressing style (path or virtual-hosted, regional or not) without a copy of
        botocore's rules. Signing is local: no request is made.
        """
        if self.settings.media_base_url:
            media = origin(self.settings.media_base_url)
        else:
            media = origin(self.variant_url(f"{self.settings.variants_prefix}origin-probe"))
        probe = f"{self.settings.originals_prefix}origin-probe"
        upload = origin(self.presigned_post(probe, formats.JPEG.content_type, 1)["url"])
        return BrowserOrigins(media=media, upload=upload)

    def variant_url(self, key: str) -> str:
        """Return the URL a browser loads a variant from.

        Presigned URLs are reused for half their lifetime. Signing costs ~0.2 ms,
        150 times for a page of 50 images; and a URL that changes on every page
        view would defeat the variants' year-long ``Cache-Control`` in browsers.
        """
        if self.settings.media_base_url:
            return f"{self.settings.media_base_url.rstrip('/')}/{quote(key)}"
        now = time.monotonic()
        cached = self._signed_urls.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        url: str = self.public_client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.settings.variants_bucket_name, "Key": key},
            ExpiresIn=self.settings.presign_expiry,
        )
        if len(self._signed_urls) >= MAX_CACHED_URLS:
            self._signed_urls.clear()
        self._signed_urls[key] = (url, now + self.settings.presign_expiry / 2)
        return url

    def original_download_url(self, key: str, filename: str, content_type: str | None) -> str:
        """Presign a GET that makes the browser save the public original under ``filename``.

        ``key`` is a :meth:`public_original_key`: the stored original itself (with its
        GPS position and camera serial) is never handed out.
        """
        params = {
            "Bucket": self.settings.variants_bucket_name,
            "Key": key,
            "ResponseContentDisposition": _attachment(filename),
        }
        if content_type:
            params["ResponseContentType"] = content_type
        return self.public_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.settings.presign_expiry
        )

    def presigned_post(self, key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
        """Let a browser POST one original straight to S3.

        The policy pins the key, the exact content type and the size range, and S3
        enforces it: a browser cannot write anywhere else or anything larger.
        """
        return self.public_client.generate_presigned_post(
            Bucket=self.settings.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=self.settings.presign_expiry,
        )


_GRANTED_STEM = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class BrowserOrigins:
    media: str
    upload: str


def origin(url: str) -> str:
    """The origin (scheme://host[:port]) of ``url``, as browsers send it and CSP and CORS name it.

    The one reading of an origin: for the pages' CSP (:meth:`Storage.browser_origins`) and
    for the origins a stage's bucket CORS must allow (its API's URL, its domain).
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _attachment(filename: str) -> str:
    """Build a Content-Disposition that survives any file name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'")
    ascii_name = "".join(ch if ch.isprintable() and ch not in "\\/" else "_" for ch in ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@lru_cache(maxsize=4)
def get_storage(settings: Settings) -> Storage:
    """Return this process's :class:`Storage` for ``settings``.

    A warm Lambda container keeps its boto3 clients (and their connection
    pools) between invocations instead of paying for them on every event.
    """
    return Storage(settings)
