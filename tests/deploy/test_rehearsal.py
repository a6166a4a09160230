"""A first deploy, three updates, status and undeploy of the dev stage, offline.

``make deploy STAGE=dev`` (scripts/deploy.py) runs for real, with the real Zappa
CLI from the build venv, against moto's server with fake credentials and no
network. What is played and not rehearsed (docs/deploy.md, "What the rehearsal
does not prove"):

- moto 5.2.5 lacks ``ListFunctionUrlConfigs``, which ``zappa update`` calls: a
  route answering from moto's own state is added (tests/deploy/emulator.py);
- moto runs functions in Docker, which is not here: invocations run the zip moto
  holds in a bare interpreter instead (the package tests' container);
- Zappa's post-deploy request and the smoke test need the network to reach
  ``*.execute-api.*``: an HTTPS proxy plays API Gateway (tests/deploy/gateway.py),
  invoking the function the API integrates. Neither tool is patched.

The steps run once for the module (about a minute); each test reads what they did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kitteh.migrate import head_revision, upgrade
from ops import wiring
from tests.deploy.conftest import REGION, STAGE, Account
from tests.deploy.emulator import code_sha256
from tests.package.build import PACKAGE_VENV
from tests.package.zappa_config import ROOT

HEAD = head_revision()

pytestmark = [pytest.mark.package, pytest.mark.postgres]

UPDATES = 3
#: Which update finds the schema behind the code it ships.
SCHEMA_CHANGING_UPDATE = 1


@dataclass
class Run:
    command: list[str]
    returncode: int
    output: str


@dataclass
class Snapshot:
    """What the account holds for the stage at one moment."""

    function: dict[str, Any] | None
    statements: list[dict[str, Any]]
    notification: dict[str, Any]
    rules: list[dict[str, Any]]
    stacks: list[str]
    apis: list[str]
    deploy_bucket: list[str]
    #: The REST API the stage's CloudFormation stack holds (Zappa's "Api" resource).
    stack_api: str | None = None
    api_ids: list[str] = field(default_factory=list)

    def policy(self) -> list[tuple[str, str, str | None]]:
        """The statements by what they allow (Zappa draws a new Sid for its schedule's)."""
        return sorted(
            (
                json.dumps(s.get("Principal"), sort_keys=True),
                str(s.get("Action")),
                wiring._condition_value(s, "aws:SourceArn"),
            )
            for s in self.statements
        )


@dataclass
class Rehearsal:
    account: Account
    deploy: Run
    after_deploy: Snapshot
    updates: list[Run] = field(default_factory=list)
    after_updates: list[Snapshot] = field(default_factory=list)
    status: Run | None = None
    failed_migration: Run | None = None
    undeploy: Run | None = None
    after_undeploy: Snapshot | None = None

    def policy_counts(self) -> list[int]:
        return [len(s.statements) for s in [self.after_deploy, *self.after_updates]]

    def transcript(self) -> str:
        """Every command and what it printed, then the figures (KITTEH_REHEARSAL_TRANSCRIPT)."""
        runs = [self.deploy, *self.updates, self.status, self.failed_migration, self.undeploy]
        text = "".join(
            f"$ {' '.join(r.command)}\n{r.output}[exit {r.returncode}]\n\n" for r in runs if r
        )
        return text + (
            f"function policy statements after the deploy and each update: {self.policy_counts()}\n"
            f"requests through the API stand-in: {len(self.account.gateway.requests)}\n"
            f"function invocations: {len(self.account.runtime.invocations)}\n"
        )


def run(account: Account, *args: str) -> Run:
    """``python -m scripts.deploy ARGS`` (what ``make deploy`` and friends run)."""
    command = [sys.executable, "-m", "scripts.deploy", *args]
    return _run(account, [*command, "--settings", str(account.settings_file)], timeout=600)


def zappa(account: Account, *args: str) -> Run:
    """The build venv's Zappa CLI, on the rehearsal's settings."""
    command = [str(PACKAGE_VENV / "bin" / "zappa"), *args, "-s", str(account.settings_file)]
    return _run(account, command, timeout=300)


def _run(account: Account, command: list[str], timeout: float) -> Run:
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=account.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(command, done.returncode, done.stdout)


def snapshot(account: Account) -> Snapshot:
    lam, s3 = account.client("lambda"), account.client("s3")
    name = account.function_name
    try:
        function = lam.get_function(FunctionName=name)["Configuration"]
    except lam.exceptions.ResourceNotFoundException:
        function = None
    statements = wiring.policy_statements(lam, name) if function else []
    notification = s3.get_bucket_notification_configuration(Bucket=account.bucket)
    notification.pop("ResponseMetadata", None)
    events = account.client("events")
    rules = [
        events.describe_rule(Name=rule["Name"])
        for rule in events.list_rules(NamePrefix=name)["Rules"]
    ]
    stacks = [
        s["StackName"]
        for s in account.client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    rest_apis = account.client("apigateway").get_rest_apis()["items"]
    apis = [api["name"] for api in rest_apis]
    cloudformation = account.client("cloudformation")
    try:
        stack_api = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId="Api")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
    except cloudformation.exceptions.ClientError:
        stack_api = None
    deploy_bucket = account.stage_config["s3_bucket"]
    listed = s3.list_objects_v2(Bucket=deploy_bucket).get("Contents", [])
    return Snapshot(
        function,
        statements,
        notification,
        rules,
        stacks,
        apis,
        [o["Key"] for o in listed],
        stack_api,
        [api["id"] for api in rest_apis],
    )


@pytest.fixture(scope="module")
def rehearsal(account: Account) -> Iterator[Rehearsal]:
    zip_args = ("--zip", str(account.package))
    done = Rehearsal(account, run(account, "deploy", STAGE, *zip_args), snapshot(account))
    assert done.deploy.returncode == 0, done.deploy.output
    for number in range(UPDATES):
        if number == SCHEMA_CHANGING_UPDATE:
            # The code of this update needs a migration the database lacks: the same
            # state as shipping a new revision (the package holds only one to ship).
            upgrade(account.database_url, "base")
        done.updates.append(run(account, "deploy", STAGE, *zip_args))
        done.after_updates.append(snapshot(account))
    done.status = zappa(account, "status", STAGE)
    done.failed_migration = run(account, "migrate", STAGE, "--revision", "no-such-revision")
    done.undeploy = run(account, "undeploy", STAGE)
    done.after_undeploy = snapshot(account)
    transcript = os.environ.get("KITTEH_REHEARSAL_TRANSCRIPT")
    if transcript:
        Path(transcript).write_text(done.transcript())
    yield done


def test_the_first_deploy_runs_every_step_and_zappas_check_passes(rehearsal: Rehearsal) -> None:
    output = rehearsal.deploy.output
    assert "zappa deploy dev -z" in output
    assert "Deployment complete!" in output
    # Zappa's own post-deploy request, before the migration, answered below 500.
    api = rehearsal.after_deploy.apis
    assert api == [rehearsal.account.function_name]
    touched = [r for r in rehearsal.account.gateway.requests if r.startswith("GET https://")]
    assert touched[0].endswith(f".execute-api.{REGION}.amazonaws.com/{STAGE}/livez"), touched
    # The migration then ran from an empty database, and the smoke test passed.
    assert f"{{'from': None, 'to': '{HEAD}'}}" in output
    assert "GET /healthz: 200" in output
    assert "is ready: large, monstrous, tiny" in output
    assert output.rstrip().splitlines()[-1].startswith("deployed dev: https://")


def test_every_update_takes_the_update_path_and_passes(rehearsal: Rehearsal) -> None:
    for update in rehearsal.updates:
        assert update.returncode == 0, update.output
        assert "zappa update dev -z" in update.output
        assert "Your updated Zappa deployment is live!" in update.output
        assert "is ready: large, monstrous, tiny" in update.output


def test_an_update_whose_schema_is_behind_passes_zappas_check_then_migrates(
    rehearsal: Rehearsal,
) -> None:
    update = rehearsal.updates[SCHEMA_CHANGING_UPDATE]
    assert update.returncode == 0, update.output
    # Zappa's check came before the migration (it would have failed the update on /).
    assert update.output.index("Your updated Zappa deployment is live!") < update.output.index(
        "==> [5/7] migrate"
    )
    assert f"{{'from': None, 'to': '{HEAD}'}}" in update.output
    assert "GET /healthz: 200" in update.output


def test_the_function_runs_the_tested_zip_with_its_environment_and_handler(
    rehearsal: Rehearsal,
) -> None:
    expected = code_sha256(rehearsal.account.package.read_bytes())
    config = rehearsal.account.stage_config
    for function in [
        rehearsal.after_deploy.function,
        *(s.function for s in rehearsal.after_updates),
    ]:
        assert function is not None
        assert function["CodeSha256"] == expected
        assert function["Handler"] == "handler.lambda_handler"
        assert function["Runtime"] == config["runtime"]
        assert function["Timeout"] == config["timeout_seconds"]
        assert function["MemorySize"] == config["memory_size"]
        assert function["Environment"]["Variables"] == config["aws_environment_variables"]
        assert function["Role"] == config["role_arn"]


def test_the_s3_notification_covers_originals_only(rehearsal: Rehearsal) -> None:
    for snap in [rehearsal.after_deploy, *rehearsal.after_updates]:
        assert set(snap.notification) == {"LambdaFunctionConfigurations"}, snap.notification
        [entry] = snap.notification["LambdaFunctionConfigurations"]
        assert entry["Id"] == wiring.FUNCTION_NOTIFICATION_ID
        assert entry["Events"] == ["s3:ObjectCreated:*"]
        rules = entry["Filter"]["Key"]["FilterRules"]
        assert [(r["Name"].lower(), r["Value"]) for r in rules] == [("prefix", "originals/")]


def test_the_resource_policy_does_not_grow_with_updates(rehearsal: Rehearsal) -> None:
    after_deploy = rehearsal.after_deploy.policy()
    # One for S3 (ours, a fixed Sid), one for the hourly schedule (Zappa's, re-made
    # with a new random Sid by every update: the same statement by what it allows).
    assert rehearsal.policy_counts() == [2] * (1 + UPDATES)
    for snap in rehearsal.after_updates:
        assert snap.policy() == after_deploy
        assert [s["Sid"] for s in snap.statements].count(wiring.PERMISSION_ID) == 1


def test_the_hourly_schedule_exists(rehearsal: Rehearsal) -> None:
    function = rehearsal.after_updates[-1].function
    assert function is not None
    [rule] = rehearsal.after_updates[-1].rules
    assert rule["Name"] == f"{rehearsal.account.function_name}-handlers.maintenance.handler"
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    assert rule["State"] == "ENABLED"


def test_status_describes_the_deployed_function(rehearsal: Rehearsal) -> None:
    status = rehearsal.status
    assert status is not None and status.returncode == 0, status and status.output
    assert "kitteh-dev" in status.output
    assert "handler.lambda_handler" in status.output
    assert "Event Rule Schedule:  rate(1 hour)" in status.output


def test_a_failed_migration_fails_the_command_and_says_where_the_schema_is(
    rehearsal: Rehearsal,
) -> None:
    failed = rehearsal.failed_migration
    assert failed is not None
    assert failed.returncode == 1, failed.output
    assert "error occurred while invoking command" in failed.output  # Zappa's exit
    assert f"MigrationError: migration to no-such-revision failed; the schema stays at {HEAD}" in (
        failed.output
    )
    assert "deploy: migrate failed" in failed.output


def test_undeploy_leaves_nothing_behind(rehearsal: Rehearsal) -> None:
    undeploy = rehearsal.undeploy
    assert undeploy is not None and undeploy.returncode == 0, undeploy and undeploy.output
    after = rehearsal.after_undeploy
    assert after is not None
    assert after.function is None
    assert after.rules == []
    assert after.stacks == []
    # Zappa deletes the API by deleting the stack that holds it; moto 5.2.5 keeps a
    # deleted stack's REST API (AWS deletes it with the stack): only that one is left.
    assert after.api_ids in ([], [rehearsal.after_deploy.stack_api])
    assert after.notification == {}
    # What is left was there before the first deploy: the secrets object.
    assert after.deploy_bucket == [rehearsal.account.stage_config["remote_env"].split("/", 3)[3]]
