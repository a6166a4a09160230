"""A Lambda function and its role in moto, for tests of what is wired to it.

moto keeps Lambda's control plane (functions, policies, event source mappings)
without running anything, which is all these tests need.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3

from tests.package.zappa_config import runtime

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_function(name: str, *, region: str = "us-east-1", timeout: int = 60) -> dict[str, Any]:
    """Create function ``name`` (and a role for it); return its configuration."""
    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    configuration: dict[str, Any] = boto3.client("lambda", region_name=region).create_function(
        FunctionName=name,
        Runtime=runtime(),
        Role=role["Role"]["Arn"],
        Handler="handler.lambda_handler",
        Code={"ZipFile": tiny_zip()},
        Timeout=timeout,
    )
    return configuration
