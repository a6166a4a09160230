"""A stage in the deployer's AWS account: who deploys, its secrets, its API, its origins.

What :mod:`ops.deploy` and :mod:`ops.doctor` ask AWS about a stage of
:mod:`ops.stage`, each through a boto3 client they are handed, with the
deployer's credentials, and the one wording of what to do when it is not there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kitteh.aws import error_code
from kitteh.storage import origin
from ops.stage import Stage

#: What a stage's secrets object must hold: the function reads both at cold start.
SECRETS = ("SECRET_KEY", "DATABASE_URL")


class NoCredentials(LookupError):
    """No AWS credentials answer; :attr:`fix` says how to provide a deployer's."""

    fix = "set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) to a deployer's"


def first_line(exc: BaseException) -> str:
    """An exception as one line for an operator: its type and its message's first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def caller_identity(sts: Any) -> str:
    """Return the account id of the credentials in use, as STS answers it.

    :raise NoCredentials: none answer ("no AWS credentials answer: <why>").
    """
    try:
        identity = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        raise NoCredentials(f"no AWS credentials answer: {first_line(exc)}") from exc
    return str(identity["Account"])


def missing_secrets(secrets: Mapping[str, str]) -> list[str]:
    """The :data:`SECRETS` that ``secrets`` lacks or leaves blank, in that order."""
    return [name for name in SECRETS if not secrets.get(name, "").strip()]


def secrets_fix(stage: Stage) -> str:
    """How to put the stage's secrets where its ``remote_env`` says (docs/deploy.md, 2)."""
    location = "s3://{}/{}".format(*stage.remote_env) if stage.remote_env else "its remote_env"
    return (
        f"put SECRET_KEY and DATABASE_URL in .deploy/kitteh-{stage.name}.json, then "
        f"aws s3 cp .deploy/kitteh-{stage.name}.json {location} (docs/deploy.md, section 2)"
    )


def read_remote_env(s3: Any, stage: Stage) -> dict[str, str]:
    """Fetch the secrets object the stage's ``remote_env`` names.

    :raise LookupError: the stage names none, or the object cannot be read; the
        message says which and why.
    """
    location = stage.remote_env
    if location is None:
        raise LookupError(f"stage {stage.name} names no remote_env (s3://bucket/key.json)")
    bucket, key = location
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise LookupError(f"cannot read s3://{bucket}/{key}: {error_code(exc) or exc}") from exc
    except BotoCoreError as exc:
        raise LookupError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
    try:
        secrets = json.loads(body)
    except ValueError as exc:
        raise LookupError(f"s3://{bucket}/{key} is not JSON: {exc}") from exc
    if not isinstance(secrets, dict):
        raise LookupError(f"s3://{bucket}/{key} is not a JSON object")
    return {str(k): str(v) for k, v in secrets.items()}


def api_url(cloudformation: Any, stage: Stage) -> str | None:
    """The stage's API Gateway URL, found as Zappa finds it; None before the first deploy.

    Zappa's CloudFormation stack (named after the function) holds the REST API as
    its "Api" resource (core.py ``get_api_id``/``get_api_url``).
    """
    try:
        resource = cloudformation.describe_stack_resource(
            StackName=stage.function_name, LogicalResourceId="Api"
        )
    except ClientError:
        return None
    api_id = resource["StackResourceDetail"].get("PhysicalResourceId")
    if not api_id:
        return None
    return f"https://{api_id}.execute-api.{stage.region}.amazonaws.com/{stage.name}"


def app_origins(stage: Stage, url: str | None) -> tuple[str, ...]:
    """The origins the stage's app is served on: its API's, and its custom domain's."""
    found = [origin(url)] if url else []
    if stage.domain:
        found.append(f"https://{stage.domain}")
    return tuple(found)
