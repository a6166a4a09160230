"""ops.wiring against moto: one permission, one notification, however often it runs."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from ops import wiring
from tests.support.moto_lambda import create_function

BUCKET = "kitteh-wiring-images"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ACCOUNT = "123456789012"  # moto's


@pytest.fixture
def function(mocked_aws: None) -> dict[str, Any]:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return create_function("kitteh-dev")


def statements() -> list[dict[str, Any]]:
    return wiring.policy_statements(boto3.client("lambda"), "kitteh-dev")


def wire(function: dict[str, Any]) -> tuple[bool, bool]:
    """What make deploy runs after each zappa deploy/update of the dev stage."""
    lam, s3 = boto3.client("lambda"), boto3.client("s3")
    return (
        wiring.ensure_invoke_permission(lam, "kitteh-dev", BUCKET_ARN, ACCOUNT),
        wiring.ensure_function_notification(s3, BUCKET, function["FunctionArn"], "originals/"),
    )


def test_wiring_again_changes_nothing(function: dict[str, Any]) -> None:
    assert wire(function) == (True, True)
    first = statements()

    assert [wire(function) for _ in range(3)] == [(False, False)] * 3

    assert statements() == first
    [statement] = first
    assert statement["Sid"] == wiring.PERMISSION_ID
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == BUCKET_ARN
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == ACCOUNT


def test_the_notification_covers_originals_only_and_routes_by_its_id(
    function: dict[str, Any],
) -> None:
    wire(function)

    config = boto3.client("s3").get_bucket_notification_configuration(Bucket=BUCKET)
    [entry] = config["LambdaFunctionConfigurations"]
    assert entry["LambdaFunctionArn"] == function["FunctionArn"]
    assert entry["Events"] == ["s3:ObjectCreated:*"]
    rules = entry["Filter"]["Key"]["FilterRules"]
    assert [(rule["Name"].lower(), rule["Value"]) for rule in rules] == [("prefix", "originals/")]
    # Zappa's handler takes the function from a configurationId holding a ":".
    assert entry["Id"].split(":")[-1] == "handlers.resize.handler"


def test_permissions_left_by_zappas_own_s3_wiring_are_cleaned_up(
    function: dict[str, Any],
) -> None:
    # GIVEN the policy a stage deployed with an S3 entry in Zappa's events ends up with
    lam = boto3.client("lambda")
    for sid in ("s3-kitteh-wiring-images", "AB12CD34", "EF56GH78"):
        lam.add_permission(
            FunctionName="kitteh-dev",
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=BUCKET_ARN,
            SourceAccount=ACCOUNT,
        )
    lam.add_permission(
        FunctionName="kitteh-dev",
        StatementId="someone-elses",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:topic",
    )

    wire(function)

    assert sorted(s["Sid"] for s in statements()) == [wiring.PERMISSION_ID, "someone-elses"]


def test_zappas_notification_is_replaced_and_others_kept(function: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    audit = sqs.create_queue(QueueName="audit")["QueueUrl"]
    audit_arn = sqs.get_queue_attributes(QueueUrl=audit, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "kitteh-dev",  # what Zappa names its own
                    "LambdaFunctionArn": function["FunctionArn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "originals/"}]}},
                }
            ],
            "QueueConfigurations": [
                {"Id": "audit", "QueueArn": audit_arn, "Events": ["s3:ObjectRemoved:*"]}
            ],
        },
    )

    wire(function)

    config = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert [e["Id"] for e in config["LambdaFunctionConfigurations"]] == [
        wiring.FUNCTION_NOTIFICATION_ID
    ]
    assert [e["Id"] for e in config["QueueConfigurations"]] == ["audit"]

    assert wiring.remove_function_notification(s3, BUCKET, function["FunctionArn"]) is True
    config = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert "LambdaFunctionConfigurations" not in config
    assert [e["Id"] for e in config["QueueConfigurations"]] == ["audit"]
    assert wiring.remove_function_notification(s3, BUCKET, function["FunctionArn"]) is False


def test_batch_failure_reporting_is_switched_on_once(function: dict[str, Any]) -> None:
    sqs, lam = boto3.client("sqs"), boto3.client("lambda")
    url = sqs.create_queue(QueueName="kitteh-originals-created")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # What Zappa creates from an SQS entry in events: no FunctionResponseTypes.
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="kitteh-dev", BatchSize=5
    )

    assert wiring.ensure_batch_failure_reporting(lam, "kitteh-dev", arn) == [mapping["UUID"]]
    assert wiring.ensure_batch_failure_reporting(lam, "kitteh-dev", arn) == []
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]


def test_a_missing_mapping_is_reported(function: dict[str, Any]) -> None:
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:never-created"
    with pytest.raises(LookupError, match="no event source mapping"):
        wiring.ensure_batch_failure_reporting(boto3.client("lambda"), "kitteh-dev", arn)
