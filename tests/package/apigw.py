"""API Gateway REST API (v1) proxy events, shaped like those of the API Zappa deploys.

Zappa creates a REST API with a ``{proxy+}`` resource and, with ``binary_support``,
``binaryMediaTypes: ["*/*"]``: every request body then reaches Lambda base64
encoded with ``isBase64Encoded: true``, which is what :func:`rest_event` sends.
The Host is the execute-api one, so Zappa mounts the app under ``/<stage>`` the
way it does on AWS.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

STAGE = "dev"
API_ID = "k1tt3hapi0"
HOST = f"{API_ID}.execute-api.us-east-1.amazonaws.com"


def rest_event(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    host: str = HOST,
    stage: str = STAGE,
    api_id: str = API_ID,
) -> dict[str, Any]:
    """Build the event API Gateway sends for ``method path`` on ``stage`` (dev)."""
    all_headers = {
        "Accept": "*/*",
        "Host": host,
        "User-Agent": "kitteh-package-tests",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    if body is not None:
        all_headers["Content-Length"] = str(len(body))
    proxy = path.lstrip("/")
    return {
        "resource": "/{proxy+}" if proxy else "/",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": proxy} if proxy else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}" if proxy else "/",
            "httpMethod": method,
            "path": f"/{stage}{path}" + (f"?{urlencode(query)}" if query else ""),
            "stage": stage,
            "apiId": api_id,
            "accountId": "000000000000",
            "requestId": str(uuid.uuid4()),
            "protocol": "HTTP/1.1",
            "domainName": host,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "kitteh-package-tests"},
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    """Encode one file field as multipart/form-data; return (body, Content-Type)."""
    boundary = f"kitteh{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def response_body(response: dict[str, Any]) -> bytes:
    """The bytes a browser would get: API Gateway decodes base64 bodies."""
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()
