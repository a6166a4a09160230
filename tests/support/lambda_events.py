"""Lambda events as AWS sends them, for calling handlers directly."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def make_s3_event(bucket: str, *keys: str, size: int = 1024) -> dict[str, Any]:
    """An ``ObjectCreated:Put`` event for ``keys``, encoded the way S3 encodes them."""
    template = load_event("s3_object_created.json")["Records"][0]
    records = []
    for key in keys:
        record = copy.deepcopy(template)
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        record["s3"]["object"]["key"] = quote_plus(key, safe="/")
        record["s3"]["object"]["size"] = size
        records.append(record)
    return {"Records": records}


def make_sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    """An SQS event whose messages carry ``bodies`` (S3 events), as Lambda receives it."""
    template = load_event("sqs_message.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        records.append(record)
    return {"Records": records}
