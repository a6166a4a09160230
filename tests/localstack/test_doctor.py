"""``flask kitteh doctor`` against LocalStack and PostgreSQL: a stack like ``make run``'s.

Each test bootstraps buckets and a queue of its own (LocalStack is shared) on a
throwaway database, then breaks one thing the way it breaks in life. LocalStack
here runs S3 and SQS only, as ``make run`` needs: the function checks (S3 invoking
a function, the event source mapping) run against moto in tests/test_doctor.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitteh.aws import s3_client, sqs_client
from kitteh.migrate import upgrade
from localcloud.harness import LOCALSTACK_URL as ENDPOINT
from ops import doctor
from ops.bootstrap import bootstrap
from tests.support.postgres import throwaway_database
from tests.test_doctor import BREAKERS, NOT_APPLICABLE, ORIGIN, Stack

pytestmark = [pytest.mark.localstack, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def environment(
    localstack: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The environment of a migrated stack of this test's own on LocalStack."""
    name = f"kitteh-doc-{uuid.uuid4().hex[:10]}"
    with throwaway_database("kitteh_doc") as database_url:
        env = {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
            "AWS_ENDPOINT_URL": ENDPOINT,
            "KITTEH_BUCKET": name,
            "KITTEH_VARIANTS_BUCKET": f"{name}-v",
            "KITTEH_QUEUE": name,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "doctor-on-localstack",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        target = doctor.local_target(env, (ORIGIN,), 60)
        summary = bootstrap(target.settings, app_origins=[ORIGIN])
        upgrade(database_url)
        try:
            yield env
        finally:
            _remove(target, summary)


def _remove(target: doctor.Target, summary: dict[str, str]) -> None:
    s3, sqs = s3_client(target.settings), sqs_client(target.settings)
    for url in (summary["queue_url"], summary["dlq_url"]):
        sqs.delete_queue(QueueUrl=url)
    for bucket in (target.settings.bucket, target.settings.variants_bucket_name):
        try:
            s3.delete_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            pass  # the test deleted it


@pytest.fixture
def stack(environment: dict[str, str]) -> Stack:
    target = doctor.local_target(environment, (ORIGIN,), 60)
    clients = doctor.Clients(s3_client(target.settings), sqs_client(target.settings))
    return Stack("local", target, clients, environment["DATABASE_URL"])


def test_a_healthy_localstack_stack_passes_every_check(stack: Stack) -> None:
    report = stack.diagnose()
    assert report.ok, report.render()
    assert {c.name for c in report.checks if c.ok is None} == NOT_APPLICABLE["local"]


@pytest.mark.parametrize(
    "broken", [name for name in BREAKERS if name not in NOT_APPLICABLE["local"]]
)
def test_each_check_fails_on_localstack_when_broken(stack: Stack, broken: str) -> None:
    breaker, local_fix, _ = BREAKERS[broken]
    if broken == "variants":
        breaker = _variants_trigger_a_queue_of_ours
    breaker(stack)

    report = stack.diagnose()

    failed = {check.name: check for check in report.checks if check.ok is False}
    assert set(failed) == {broken}, report.render()
    assert local_fix in (failed[broken].fix or ""), report.render()


def _variants_trigger_a_queue_of_ours(stack: Stack) -> None:
    # The same breakage as in moto, onto the stack's own dead-letter queue (a queue
    # made here would outlive the test on the shared LocalStack).
    s3, sqs, settings = stack.clients.s3, stack.clients.sqs, stack.settings
    arn = doctor._queue_arn(sqs, f"{settings.queue_name}-dlq")
    entry = {"Id": "audit-everything", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=settings.variants_bucket_name,
        NotificationConfiguration={"QueueConfigurations": [entry]},
    )


def run_doctor_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``flask kitteh doctor`` as a developer runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "kitteh", "doctor", "--origin", ORIGIN],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_passes_then_names_three_problems_and_their_fixes(
    stack: Stack, environment: dict[str, str]
) -> None:
    healthy = run_doctor_command(environment)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.rstrip().endswith("all checks passed")

    # WHEN the notification is removed, the CORS rule changed, the schema one revision behind
    for broken in ("notification", "cors", "schema"):
        BREAKERS[broken][0](stack)
    sick = run_doctor_command(environment)

    # THEN each is named with the command that fixes it, and the command fails
    assert sick.returncode == 1, sick.stdout + sick.stderr
    out = sick.stdout
    assert "FAIL schema       at revision none (empty), the code needs" in out
    assert "fix: make migrate" in out
    assert f"refuses browser uploads (POST) from {ORIGIN}" in out
    assert f"fix: KITTEH_CORS_ORIGINS={ORIGIN} make bootstrap" in out
    assert "FAIL notification no object-created notification" in out
    assert out.rstrip().endswith("3 of 11 checks failed: schema, cors, notification")
