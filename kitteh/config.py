"""Settings, read once from the process environment.

Every deployment-specific value comes from the environment so that the same code
(and the same Zappa package) runs against AWS, LocalStack, MinIO or the embedded
default without edits. boto3 itself reads ``AWS_ENDPOINT_URL``, ``AWS_REGION`` and
the credentials; we read them too only to report them and to derive the public
endpoint that browsers are given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_PIXELS = 80_000_000

#: Old environment names still read, each with the name that replaced it.
DEPRECATED_NAMES = {"MAX_CONTENT_LENGTH": "KITTEH_MAX_UPLOAD_BYTES"}

log = logging.getLogger(__name__)
_warned: set[str] = set()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _renamed(env: Mapping[str, str], name: str) -> Mapping[str, str]:
    """``env``, with ``name`` taken from its deprecated old name when only that is set.

    ``MAX_CONTENT_LENGTH`` was the first name of the upload limit, and misleading:
    Flask's setting of that name is the whole request's limit, larger by the form's
    envelope. Deployments that still set it keep working, with a warning once.
    """
    old = next(old for old, new in DEPRECATED_NAMES.items() if new == name)
    if env.get(name, "").strip() or not env.get(old, "").strip():
        return env
    if old not in _warned:
        _warned.add(old)
        log.warning("%s is deprecated and will be removed; set %s instead", old, name)
    return {**env, name: env[old]}


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """Everything Kitteh needs to know about where it runs."""

    database_url: str = "sqlite:///instance/kitteh.db"
    #: Bucket for the originals. The resize function is triggered on its
    #: ``originals_prefix`` only, so variants written elsewhere never re-trigger it.
    bucket: str = "kitteh-images"
    #: Bucket for the resized variants; the originals bucket unless set.
    variants_bucket: str | None = None
    originals_prefix: str = "originals/"
    variants_prefix: str = "variants/"
    #: Region for boto3 clients and for presigned URLs.
    region: str = "us-east-1"
    #: Where the app itself talks to S3 (None: boto3's default, i.e. AWS or
    #: ``AWS_ENDPOINT_URL``).
    endpoint_url: str | None = None
    #: Where browsers reach S3, for presigned POSTs and object URLs. Differs from
    #: ``endpoint_url`` when the app talks to S3 on an internal address (a Docker
    #: network name, say) that a browser cannot resolve.
    public_endpoint_url: str | None = None
    #: Base URL serving variant objects directly (a CDN or a public bucket). When
    #: unset, variant URLs are presigned GETs.
    media_base_url: str | None = None
    #: SQS queue that receives the originals' object-created events (with a
    #: dead-letter queue ``<name>-dlq``): read by the local relay, and on AWS by the
    #: resize function's event source mapping where S3 → SQS → Lambda is wired.
    queue_name: str = "kitteh-originals-created"
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: Larger images are refused before any pixel is decoded (decompression bombs).
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: Lifetime of presigned POSTs and GETs handed to browsers, in seconds.
    presign_expiry: int = 3600
    #: Browser origins allowed to POST straight to the bucket (CORS).
    cors_origins: tuple[str, ...] = field(default_factory=lambda: ("*",))
    secret_key: str | None = None

    @property
    def variants_bucket_name(self) -> str:
        return self.variants_bucket or self.bucket

    @property
    def browser_endpoint_url(self) -> str | None:
        return self.public_endpoint_url or self.endpoint_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        defaults = cls()
        origins = env.get("KITTEH_CORS_ORIGINS", "").strip()
        return cls(
            database_url=env.get("DATABASE_URL", "").strip() or defaults.database_url,
            bucket=env.get("KITTEH_BUCKET", "").strip() or defaults.bucket,
            variants_bucket=_optional(env, "KITTEH_VARIANTS_BUCKET"),
            region=(
                env.get("AWS_REGION", "").strip()
                or env.get("AWS_DEFAULT_REGION", "").strip()
                or defaults.region
            ),
            endpoint_url=_optional(env, "AWS_ENDPOINT_URL"),
            public_endpoint_url=_optional(env, "KITTEH_PUBLIC_ENDPOINT_URL"),
            media_base_url=_optional(env, "KITTEH_MEDIA_BASE_URL"),
            queue_name=env.get("KITTEH_QUEUE", "").strip() or defaults.queue_name,
            max_upload_bytes=_int(
                _renamed(env, "KITTEH_MAX_UPLOAD_BYTES"),
                "KITTEH_MAX_UPLOAD_BYTES",
                defaults.max_upload_bytes,
            ),
            max_pixels=_int(env, "KITTEH_MAX_PIXELS", defaults.max_pixels),
            presign_expiry=_int(env, "KITTEH_PRESIGN_EXPIRY", defaults.presign_expiry),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip())
            or defaults.cors_origins,
            secret_key=_optional(env, "SECRET_KEY"),
        )
