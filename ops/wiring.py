"""Wire a deployed function to its events, idempotently, where Zappa's own wiring falls short.

Two things Zappa 0.63.0 does not do right, taken over here and run by
``make deploy`` after every ``zappa deploy`` and ``zappa update``:

**S3 invoking the function directly (the dev stage).** For an S3 entry in
``events`` Zappa adds an invoke permission with a random statement id on every
update, and its clean-up removes only the ``events.amazonaws.com`` ones (core.py,
``create_event_permission`` / ``_clear_policy``): the function's resource policy
grows by one statement per update until it hits its 20 KB cap. So the stage has no
S3 entry in ``events``, and this module keeps exactly one permission (a fixed
statement id) and one notification (a fixed id) instead. The notification's id
ends in ``:handlers.resize.handler``: Zappa's handler routes an S3 record by the
``configurationId`` when it holds a ``:`` (handler.py,
``get_function_for_aws_event``), as it would have by the bucket's ARN.

**SQS (the production stage).** Zappa creates the event source mapping without
``ReportBatchItemFailures``; :func:`ensure_batch_failure_reporting` switches it on.
The resize handler does not rely on it (see :mod:`handlers.queues`), but with it a
partial batch answer means what the Lambda documentation says it does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from kitteh.aws import error_code
from ops.bootstrap import notification_configuration, prefix_filter, same_notifications
from ops.stage import RESIZE_FUNCTION

if TYPE_CHECKING:  # dev-only stubs; Lambda's client stays untyped (no stubs installed)
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        LambdaFunctionConfigurationTypeDef,
        NotificationConfigurationTypeDef,
    )

log = logging.getLogger(__name__)

#: The notification S3 invokes the resize function by; Zappa routes on its suffix.
FUNCTION_NOTIFICATION_ID = f"kitteh-originals-created:{RESIZE_FUNCTION}"
#: The one statement of the function's policy that lets S3 invoke it.
PERMISSION_ID = "kitteh-s3-invokes-resize"
BATCH_FAILURES = "ReportBatchItemFailures"


def policy_statements(lam: Any, function_name: str) -> list[dict[str, Any]]:
    """The statements of the function's resource policy ([] when it has none)."""
    try:
        policy = lam.get_policy(FunctionName=function_name)["Policy"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return []
        raise
    statements: list[dict[str, Any]] = json.loads(policy).get("Statement", [])
    return statements


def _condition_value(statement: dict[str, Any], key: str) -> str | None:
    """A condition's value whatever the operator and the key's case (AWS:SourceArn...)."""
    for operator in statement.get("Condition", {}).values():
        for name, value in operator.items():
            if name.lower() == key.lower():
                return str(value)
    return None


def _lets_s3_invoke_from(statement: dict[str, Any], bucket_arn: str) -> bool:
    principal = statement.get("Principal", {})
    service = principal.get("Service") if isinstance(principal, dict) else None
    return service == "s3.amazonaws.com" and _condition_value(statement, "aws:SourceArn") == (
        bucket_arn
    )


def ensure_invoke_permission(lam: Any, function_name: str, bucket_arn: str, account: str) -> bool:
    """Leave exactly one statement letting ``bucket_arn`` (of ``account``) invoke the function.

    Statements for the same bucket under other ids (left by Zappa's own S3 wiring,
    one per past update) are removed. Returns True if the policy changed.
    """
    changed = False
    ours = None
    for statement in policy_statements(lam, function_name):
        if not _lets_s3_invoke_from(statement, bucket_arn) and statement.get("Sid") != (
            PERMISSION_ID
        ):
            continue
        fits = (
            statement.get("Sid") == PERMISSION_ID
            and _lets_s3_invoke_from(statement, bucket_arn)
            and _condition_value(statement, "aws:SourceAccount") == account
        )
        if fits and ours is None:
            ours = statement
            continue
        lam.remove_permission(FunctionName=function_name, StatementId=statement["Sid"])
        log.info("removed permission %s from %s", statement["Sid"], function_name)
        changed = True
    if ours is None:
        # SourceAccount: a bucket ARN names no account, and a deleted bucket's name
        # can be taken by anyone (the confused deputy).
        lam.add_permission(
            FunctionName=function_name,
            StatementId=PERMISSION_ID,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=bucket_arn,
            SourceAccount=account,
        )
        log.info("let %s invoke %s", bucket_arn, function_name)
        changed = True
    return changed


def _is_ours(entry: Mapping[str, Any], function_arn: str) -> bool:
    """Our notification, or any other one for the same function (Zappa's)."""
    return bool(
        entry.get("Id") == FUNCTION_NOTIFICATION_ID
        or entry.get("LambdaFunctionArn") == function_arn
    )


def ensure_function_notification(s3: S3Client, bucket: str, function_arn: str, prefix: str) -> bool:
    """Make S3 invoke the function for objects created under ``prefix``, and nothing else.

    Other notifications for the same function (Zappa's, named after it, from a
    deploy with an S3 entry in ``events``) are replaced; everyone else's are kept.
    The permission must exist first: S3 checks that it may invoke the function.
    Returns True if the configuration was written.
    """
    current = notification_configuration(s3, bucket)
    ours: LambdaFunctionConfigurationTypeDef = {
        "Id": FUNCTION_NOTIFICATION_ID,
        "LambdaFunctionArn": function_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": prefix_filter(prefix),
    }
    others = [
        entry
        for entry in current.get("LambdaFunctionConfigurations", [])
        if not _is_ours(entry, function_arn)
    ]
    wanted: NotificationConfigurationTypeDef = {
        **current,
        "LambdaFunctionConfigurations": [*others, ours],
    }
    if same_notifications(wanted, current):
        return False
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
    log.info("set notification bucket=%s prefix=%s function=%s", bucket, prefix, function_arn)
    return True


def remove_function_notification(s3: S3Client, bucket: str, function_arn: str) -> bool:
    """Remove the function's notifications from ``bucket`` (before undeploying it)."""
    current = notification_configuration(s3, bucket)
    entries = current.get("LambdaFunctionConfigurations", [])
    kept = [entry for entry in entries if not _is_ours(entry, function_arn)]
    if len(kept) == len(entries):
        return False
    wanted: NotificationConfigurationTypeDef = {**current, "LambdaFunctionConfigurations": kept}
    if not kept:
        del wanted["LambdaFunctionConfigurations"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
    return True


def ensure_batch_failure_reporting(lam: Any, function_name: str, queue_arn: str) -> list[str]:
    """Switch ``ReportBatchItemFailures`` on for the queue's mapping(s); return those changed.

    :raise LookupError: no mapping connects the queue to the function (Zappa makes
        it from the stage's ``events``; it fails quietly when the queue is missing).
    """
    mappings = lam.list_event_source_mappings(FunctionName=function_name, EventSourceArn=queue_arn)[
        "EventSourceMappings"
    ]
    if not mappings:
        raise LookupError(f"no event source mapping connects {queue_arn} to {function_name}")
    changed = []
    for mapping in mappings:
        if BATCH_FAILURES not in (mapping.get("FunctionResponseTypes") or []):
            lam.update_event_source_mapping(
                UUID=mapping["UUID"], FunctionResponseTypes=[BATCH_FAILURES]
            )
            log.info("mapping %s now reports batch item failures", mapping["UUID"])
            changed.append(str(mapping["UUID"]))
    return changed
