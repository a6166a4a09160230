"""ops.doctor against moto: each check passes on a healthy stack and fails when broken.

Three stacks, as the doctor meets them:

``local``       S3 -> SQS, read by the local relay (no function): ``make run`` on LocalStack;
``dev``         S3 invokes the deployed function directly (``zappa_settings.json``'s dev);
``production``  S3 -> SQS -> the function through an event source mapping.

The stages are read from zappa_settings.json as shipped, placeholders and all:
moto takes any bucket name, and the secrets object lives where ``remote_env`` says.
tests/localstack/test_doctor.py runs the local stack's checks against LocalStack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kitteh.config import Settings
from kitteh.migrate import upgrade
from ops import bootstrap as bootstrap_module
from ops import doctor, wiring
from ops.bootstrap import bootstrap
from ops.stage import Stage
from tests.support.moto_lambda import create_function

ORIGIN = "https://kitteh.example.test"
ACCOUNT = "123456789012"  # moto's


@dataclass
class Stack:
    mode: str
    target: doctor.Target
    clients: doctor.Clients
    database_url: str
    stage: Stage | None = None

    def diagnose(self) -> doctor.Report:
        return doctor.diagnose(self.rebuild(), self.clients)

    def rebuild(self) -> doctor.Target:
        """The target as the doctor would build it now (the secrets may have changed)."""
        if self.stage is None:
            return self.target
        return doctor.stage_target(self.stage, self.clients.s3, (ORIGIN,), 60)

    @property
    def settings(self) -> Settings:
        return self.rebuild().settings


def _clients() -> doctor.Clients:
    return doctor.Clients(boto3.client("s3"), boto3.client("sqs"), boto3.client("lambda"))


def _local(database_url: str) -> Stack:
    env = {
        "KITTEH_BUCKET": "kitteh-doctor-originals",
        "KITTEH_VARIANTS_BUCKET": "kitteh-doctor-variants",
        "KITTEH_QUEUE": "kitteh-doctor-events",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "doctor-test",
    }
    target = doctor.local_target(env, (ORIGIN,), 60)
    bootstrap(target.settings, app_origins=[ORIGIN])
    return Stack("local", target, _clients(), database_url)


def _stage(name: str, database_url: str) -> Stack:
    stage = Stage.load(name)
    clients = _clients()
    location = stage.remote_env
    assert location is not None
    clients.s3.create_bucket(Bucket=location[0])
    secrets = {"SECRET_KEY": "doctor-test", "DATABASE_URL": database_url}
    clients.s3.put_object(Bucket=location[0], Key=location[1], Body=json.dumps(secrets))
    settings = stage.settings(secrets)
    function = create_function(stage.function_name, timeout=stage.timeout_seconds)
    bootstrap(settings, app_origins=[ORIGIN], with_queue=stage.queue_arn is not None)
    if stage.queue_arn is None:
        bucket_arn = f"arn:aws:s3:::{settings.bucket}"
        wiring.ensure_invoke_permission(clients.lam, stage.function_name, bucket_arn, ACCOUNT)
        wiring.ensure_function_notification(
            clients.s3, settings.bucket, function["FunctionArn"], settings.originals_prefix
        )
    else:
        queue_arn = doctor._queue_arn(clients.sqs, settings.queue_name)
        clients.lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=stage.function_name, BatchSize=5
        )
        wiring.ensure_batch_failure_reporting(clients.lam, stage.function_name, str(queue_arn))
    target = doctor.stage_target(stage, clients.s3, (ORIGIN,), 60)
    return Stack(name, target, clients, database_url, stage)


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    """moto, whose Lambda never tries Docker: S3's test events reach production's
    queue, whose mapping would otherwise make moto run the function in a container."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


@pytest.fixture(params=["local", "dev", "production"])
def stack(request: pytest.FixtureRequest, mocked_aws: None, tmp_path: Path) -> Stack:
    database_url = f"sqlite:///{tmp_path / 'doctor.db'}"
    upgrade(database_url)
    if request.param == "local":
        return _local(database_url)
    return _stage(request.param, database_url)


#: The checks that do not apply, per stack.
NOT_APPLICABLE = {
    "local": {"mapping", "runtime"},
    "dev": {"queue", "mapping"},
    "production": set(),
}


def test_a_healthy_stack_passes_every_check(stack: Stack) -> None:
    report = stack.diagnose()

    outcomes = {check.name: check.ok for check in report.checks}
    assert list(outcomes) == [
        "settings",
        "database",
        "schema",
        "buckets",
        "private",
        "cors",
        "notification",
        "queue",
        "mapping",
        "runtime",
        "variants",
    ]
    assert {name for name, ok in outcomes.items() if ok is None} == NOT_APPLICABLE[stack.mode]
    assert report.ok, report.render()
    assert report.render().endswith("all checks passed")


# Breakers: each breaks one thing the way it breaks in life ---------------------------


def _drop_secret_key(stack: Stack) -> None:
    if stack.stage is None:
        stack.target.provided = {
            k: v for k, v in stack.target.provided.items() if k != "SECRET_KEY"
        }
        return
    bucket, key = stack.stage.remote_env or ("", "")
    stack.clients.s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps({"DATABASE_URL": stack.database_url})
    )


def _unreachable_database(stack: Stack) -> None:
    url = "sqlite:////nonexistent-kitteh-dir/nested/kitteh.db"
    if stack.stage is None:
        stack.target.provided = {**stack.target.provided, "DATABASE_URL": url}
        stack.target.settings = Settings.from_env(stack.target.provided)
        return
    bucket, key = stack.stage.remote_env or ("", "")
    secrets = {"SECRET_KEY": "x", "DATABASE_URL": url}
    stack.clients.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(secrets))


def _schema_behind(stack: Stack) -> None:
    upgrade(stack.database_url, "base")


def _delete_variants_bucket(stack: Stack) -> None:
    s3, settings = stack.clients.s3, stack.settings
    if settings.variants_bucket_name == settings.bucket:
        # One bucket holds both: take its configuration away first, as a deletion does.
        s3.put_bucket_notification_configuration(
            Bucket=settings.bucket, NotificationConfiguration={}
        )
    s3.delete_bucket(Bucket=settings.variants_bucket_name)


def _public_access_allowed(stack: Stack) -> None:
    stack.clients.s3.delete_public_access_block(Bucket=stack.settings.bucket)


def _cors_for_another_origin(stack: Stack) -> None:
    rules = [{"AllowedOrigins": ["https://elsewhere.test"], "AllowedMethods": ["POST", "GET"]}]
    stack.clients.s3.put_bucket_cors(
        Bucket=stack.settings.bucket, CORSConfiguration={"CORSRules": rules}
    )


def _notification_removed(stack: Stack) -> None:
    stack.clients.s3.put_bucket_notification_configuration(
        Bucket=stack.settings.bucket, NotificationConfiguration={}
    )


def _queue_visibility_too_short(stack: Stack) -> None:
    sqs = stack.clients.sqs
    url = sqs.get_queue_url(QueueName=stack.settings.queue_name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "120"})


def _batch_failures_off(stack: Stack) -> None:
    lam = stack.clients.lam
    (mapping,) = lam.list_event_source_mappings(FunctionName="kitteh-production")[
        "EventSourceMappings"
    ]
    lam.update_event_source_mapping(UUID=mapping["UUID"], FunctionResponseTypes=[])


def _function_on_the_old_runtime(stack: Stack) -> None:
    assert stack.stage is not None
    stack.clients.lam.update_function_configuration(
        FunctionName=stack.stage.function_name, Runtime="python3.11"
    )


def _variants_trigger_a_queue(stack: Stack) -> None:
    s3, sqs, settings = stack.clients.s3, stack.clients.sqs, stack.settings
    url = sqs.create_queue(QueueName="audit")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    current = s3.get_bucket_notification_configuration(Bucket=settings.variants_bucket_name)
    current.pop("ResponseMetadata", None)
    audit = {"Id": "audit-everything", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
    current["QueueConfigurations"] = [*current.get("QueueConfigurations", []), audit]
    s3.put_bucket_notification_configuration(
        Bucket=settings.variants_bucket_name, NotificationConfiguration=current
    )


Breaker = Callable[[Stack], None]
#: check name -> (how to break it, the fix's command for a local stack, for a stage)
BREAKERS: dict[str, tuple[Breaker, str, str]] = {
    "settings": (_drop_secret_key, "export SECRET_KEY", "aws s3 cp .deploy/kitteh-"),
    "database": (_unreachable_database, "check DATABASE_URL", "check DATABASE_URL"),
    "schema": (_schema_behind, "make migrate", "make migrate STAGE="),
    "buckets": (_delete_variants_bucket, "make bootstrap", "make wire STAGE="),
    "private": (_public_access_allowed, "make bootstrap", "make wire STAGE="),
    "cors": (
        _cors_for_another_origin,
        "KITTEH_CORS_ORIGINS=https://kitteh.example.test make bootstrap",
        "make wire STAGE=",
    ),
    "notification": (_notification_removed, "make bootstrap", "make wire STAGE="),
    "queue": (_queue_visibility_too_short, "make bootstrap", "make wire STAGE="),
    "mapping": (_batch_failures_off, "make bootstrap", "make wire STAGE="),
    "runtime": (_function_on_the_old_runtime, "", "make deploy STAGE="),
    "variants": (_variants_trigger_a_queue, "then make bootstrap", "then make wire STAGE="),
}


@pytest.mark.parametrize(
    ("stack", "broken"),
    [
        (mode, broken)
        for mode in ("local", "dev", "production")
        for broken in BREAKERS
        if broken not in NOT_APPLICABLE[mode]
    ],
    indirect=["stack"],
)
def test_each_check_names_the_problem_and_its_fix(stack: Stack, broken: str) -> None:
    breaker, local_fix, stage_fix = BREAKERS[broken]

    breaker(stack)
    report = stack.diagnose()

    failed = {check.name: check for check in report.checks if check.ok is False}
    assert set(failed) == {broken}, report.render()
    assert not report.ok
    fix = failed[broken].fix or ""
    assert (local_fix if stack.stage is None else stage_fix) in fix, report.render()
    assert f"1 of {len(report.checks)} checks failed: {broken}" in report.render()


def test_a_cors_rule_of_ours_that_allows_more_than_the_upload_fails_until_converged(
    stack: Stack,
) -> None:
    # GIVEN Kitteh's rule as bootstrap wrote it before it allowed POST only
    settings = stack.settings
    old_rule = {
        "ID": bootstrap_module.CORS_RULE_ID,
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
        "AllowedHeaders": ["*"],
    }
    stack.clients.s3.put_bucket_cors(
        Bucket=settings.bucket, CORSConfiguration={"CORSRules": [old_rule]}
    )

    # THEN the cors check fails, naming what is allowed too much and the fix
    check = doctor.check_cors(stack.rebuild(), stack.clients)
    assert (check.ok, check.fix) == (False, stack.rebuild().fixes.converge)
    assert check.message == (
        f"{settings.bucket}'s CORS rule {bootstrap_module.CORS_RULE_ID} also allows "
        "GET, HEAD, PUT, which no browser of Kitteh's sends"
    )

    # WHEN the stack is converged (make bootstrap; make wire runs the same bootstrap)
    bootstrap(settings, app_origins=[ORIGIN], with_queue=stack.mode != "dev")

    # THEN it passes
    assert doctor.check_cors(stack.rebuild(), stack.clients).ok is True


@pytest.mark.parametrize(
    ("prefix", "triggers"),
    [("", True), ("variants/tiny", True), ("var", True), ("thumbnails/", False)],
)
def test_any_notification_whose_prefix_overlaps_the_variants_triggers(
    mocked_aws: None, tmp_path: Path, prefix: str, triggers: bool
) -> None:
    stack = _local(f"sqlite:///{tmp_path / 'd.db'}")
    s3, sqs, settings = stack.clients.s3, stack.clients.sqs, stack.settings
    arn = doctor._queue_arn(sqs, settings.queue_name)
    rules = [{"Name": "prefix", "Value": prefix}] if prefix else []
    entry: dict[str, Any] = {"Id": "x", "QueueArn": arn, "Events": ["s3:ObjectCreated:Put"]}
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(
        Bucket=settings.variants_bucket_name,
        NotificationConfiguration={"QueueConfigurations": [entry]},
    )

    check = doctor.check_variants(stack.target, stack.clients)

    assert check.ok is (not triggers), check


def test_stage_secrets_that_cannot_be_read_fail_the_settings_check(mocked_aws: None) -> None:
    stage = Stage.load("dev")
    target = doctor.stage_target(stage, boto3.client("s3"), (ORIGIN,), 60)
    report = doctor.diagnose(target, _clients())
    settings = report.checks[0]
    assert (settings.name, settings.ok) == ("settings", False)
    assert "cannot read s3://replace-me-kitteh-zappa-deploys/secrets/kitteh-dev.json" in (
        settings.message
    )
    assert "aws s3 cp .deploy/kitteh-dev.json" in (settings.fix or "")
    assert not report.ok


@pytest.mark.parametrize("stack", ["dev"], indirect=True)
def test_the_runtime_check_names_the_running_and_the_tested_runtime(stack: Stack) -> None:
    _function_on_the_old_runtime(stack)
    check = doctor.check_runtime(stack.rebuild(), stack.clients)
    assert (check.ok, check.message) == (
        False,
        "kitteh-dev runs python3.11; the code is built and tested for python3.13",
    )

    stack.clients.lam.delete_function(FunctionName="kitteh-dev")
    check = doctor.check_runtime(stack.rebuild(), stack.clients)
    assert (check.ok, check.message, check.fix) == (
        False,
        "the function kitteh-dev does not exist",
        "make deploy STAGE=dev",
    )


def test_a_stage_without_credentials_fails_one_check_that_says_how_to_provide_them(
    no_aws_credentials: None,
) -> None:
    report = doctor.run_doctor("dev")

    assert [(c.name, c.ok, c.message, c.fix) for c in report.checks] == [
        (
            "credentials",
            False,
            "no AWS credentials answer: NoCredentialsError: Unable to locate credentials",
            "set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) to a deployer's",
        )
    ]
    assert report.target.description == "stage dev" and not report.ok
