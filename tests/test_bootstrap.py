"""ops.bootstrap against moto: what it creates, and that running it again is harmless."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kitteh.aws import s3_client, sqs_client
from kitteh.config import Settings
from ops import bootstrap as bootstrap_module
from ops.bootstrap import bootstrap


@pytest.fixture
def settings(mocked_aws: None) -> Settings:
    return Settings()


def _queue_attributes(settings: Settings, queue_url: str) -> dict[str, str]:
    sqs = sqs_client(settings)
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]


def _receive_all(settings: Settings, queue_url: str) -> list[dict[str, Any]]:
    sqs = sqs_client(settings)
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_creates_buckets_queues_and_summary(settings: Settings) -> None:
    summary = bootstrap(settings)

    buckets = [b["Name"] for b in s3_client(settings).list_buckets()["Buckets"]]
    assert buckets == [settings.bucket]
    assert summary["bucket"] == summary["variants_bucket"] == settings.bucket
    assert summary["queue_url"].endswith("/" + settings.queue_name)
    assert summary["dlq_url"].endswith("/" + settings.queue_name + "-dlq")
    assert summary["notification_changed"] is True


def test_running_twice_changes_nothing(settings: Settings) -> None:
    first = bootstrap(settings)
    s3 = s3_client(settings)
    notification = s3.get_bucket_notification_configuration(Bucket=settings.bucket)
    cors = s3.get_bucket_cors(Bucket=settings.bucket)["CORSRules"]

    second = bootstrap(settings)

    assert second == {**first, "notification_changed": False}
    assert (
        s3.get_bucket_notification_configuration(Bucket=settings.bucket)["QueueConfigurations"]
        == notification["QueueConfigurations"]
    )
    assert s3.get_bucket_cors(Bucket=settings.bucket)["CORSRules"] == cors
    assert len(sqs_client(settings).list_queues()["QueueUrls"]) == 2
    # Only the first run configured the notification, so only one test event was sent.
    assert [body.get("Event") for body in _receive_all(settings, first["queue_url"])] == [
        "s3:TestEvent"
    ]


def test_notification_is_filtered_on_the_originals_prefix(settings: Settings) -> None:
    summary = bootstrap(settings)

    config = s3_client(settings).get_bucket_notification_configuration(Bucket=settings.bucket)
    [queue_config] = config["QueueConfigurations"]
    assert queue_config["QueueArn"] == summary["queue_arn"]
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    rules = queue_config["Filter"]["Key"]["FilterRules"]
    assert [(r["Name"].lower(), r["Value"]) for r in rules] == [("prefix", "originals/")]


def test_keeps_other_notifications_and_converges_a_changed_prefix(settings: Settings) -> None:
    s3, sqs = s3_client(settings), sqs_client(settings)
    s3.create_bucket(Bucket=settings.bucket)
    other_url = sqs.create_queue(QueueName="someone-elses")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    other = {
        "Id": "audit",
        "QueueArn": other_arn,
        "Events": ["s3:ObjectRemoved:*"],
    }
    s3.put_bucket_notification_configuration(
        Bucket=settings.bucket, NotificationConfiguration={"QueueConfigurations": [other]}
    )

    bootstrap(settings)
    summary = bootstrap(Settings(originals_prefix="uploads/"))

    configs = s3.get_bucket_notification_configuration(Bucket=settings.bucket)[
        "QueueConfigurations"
    ]
    by_id = {c["Id"]: c for c in configs}
    assert set(by_id) == {"audit", bootstrap_module.NOTIFICATION_ID}
    assert by_id["audit"]["QueueArn"] == other_arn
    ours = by_id[bootstrap_module.NOTIFICATION_ID]
    assert ours["QueueArn"] == summary["queue_arn"]
    assert ours["Filter"]["Key"]["FilterRules"][0]["Value"] == "uploads/"


def test_cors_allows_the_browsers_presigned_post_and_nothing_else(settings: Settings) -> None:
    bootstrap(settings, app_origins=["http://localhost:5000"])

    [rule] = s3_client(settings).get_bucket_cors(Bucket=settings.bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == ["http://localhost:5000"]
    # Pages load images with <img> and presigned GET redirects, which need no CORS,
    # and nothing issues presigned PUTs: the upload's POST is all a script sends.
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedHeaders"] == ["*"]
    assert set(rule["ExposeHeaders"]) == {"ETag", "Location"}


def test_cors_origins_default_to_settings(mocked_aws: None) -> None:
    settings = Settings(cors_origins=("https://kitteh.example", "http://localhost:5000"))
    summary = bootstrap(settings)

    [rule] = s3_client(settings).get_bucket_cors(Bucket=settings.bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == list(settings.cors_origins) == summary["cors_origins"]


def test_queue_redrives_to_the_dlq_and_admits_s3(settings: Settings) -> None:
    summary = bootstrap(settings)

    attributes = _queue_attributes(settings, summary["queue_url"])
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == summary["dlq_arn"]
    assert int(redrive["maxReceiveCount"]) == bootstrap_module.MAX_RECEIVE_COUNT
    assert int(attributes["VisibilityTimeout"]) == bootstrap_module.VISIBILITY_TIMEOUT
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:s3:::kitteh-images"
    dlq = _queue_attributes(settings, summary["dlq_url"])
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600


def test_separate_variants_bucket_outside_us_east_1(mocked_aws: None) -> None:
    settings = Settings(region="eu-west-1", variants_bucket="kitteh-variants")
    summary = bootstrap(settings)
    bootstrap(settings)

    s3 = s3_client(settings)
    for name in ("kitteh-images", "kitteh-variants"):
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert summary["variants_bucket"] == "kitteh-variants"
    [rule] = s3.get_bucket_cors(Bucket="kitteh-variants")["CORSRules"]
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD"}
    # Variants never trigger anything: their bucket has no notification at all.
    config = s3.get_bucket_notification_configuration(Bucket="kitteh-variants")
    assert not config.get("QueueConfigurations")


def test_main_prints_the_summary_as_json(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KITTEH_BUCKET", "from-env")
    monkeypatch.setenv("KITTEH_QUEUE", "from-env-queue")

    assert bootstrap_module.main([]) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["bucket"] == "from-env"
    assert summary["queue_url"].endswith("/from-env-queue")


def test_main_with_no_queue_sets_up_buckets_and_cors_only(
    mocked_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bootstrap_module.main(["--no-queue"]) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["queue_url"] is None
    assert sqs_client(Settings.from_env()).list_queues().get("QueueUrls", []) == []


def test_main_refuses_an_option_it_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    # A mistyped --no-queue would otherwise set up a queue nobody asked for.
    with pytest.raises(SystemExit) as exited:
        bootstrap_module.main(["--no-queues"])

    assert exited.value.code == 2
    assert "unrecognized arguments: --no-queues" in capsys.readouterr().err


def test_without_queue_only_buckets_and_cors_are_set(mocked_aws: None, settings: Settings) -> None:
    summary = bootstrap(settings, with_queue=False)
    s3 = s3_client(settings)
    assert summary["queue_url"] is None
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(
        Bucket=settings.bucket
    )
    assert s3.get_bucket_cors(Bucket=settings.bucket)["CORSRules"]
    assert sqs_client(settings).list_queues().get("QueueUrls", []) == []


BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.mark.parametrize("with_queue", [True, False], ids=["with-queue", "no-queue"])
def test_every_bucket_blocks_public_access(mocked_aws: None, with_queue: bool) -> None:
    # moto answers an unsigned request whatever the bucket says, so what is asserted
    # is the configuration S3 enforces: the four Public Access Block switches.
    # GIVEN an originals bucket that already exists with public access allowed
    settings = Settings(variants_bucket="kitteh-variants")
    s3 = s3_client(settings)
    s3.create_bucket(Bucket=settings.bucket)
    s3.put_public_access_block(
        Bucket=settings.bucket,
        PublicAccessBlockConfiguration=dict.fromkeys(BLOCK_ALL, False),  # type: ignore[arg-type]
    )

    # WHEN bootstrap runs (twice: the second run must keep it so)
    bootstrap(settings, with_queue=with_queue)
    bootstrap(settings, with_queue=with_queue)

    # THEN both buckets block every form of public access
    for bucket in (settings.bucket, "kitteh-variants"):
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert config == BLOCK_ALL, bucket
