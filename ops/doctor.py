"""Check a running Kitteh end to end, and say what is wrong and the command that fixes it.

``flask kitteh doctor`` (``make doctor``) runs these checks against the stack the
environment names (LocalStack, moto, MinIO with PostgreSQL or SQLite), or with
``--stage`` against a deployed stage of ``zappa_settings.json``, read with the
deployer's AWS credentials. Each check reads what exists and compares it with
what Kitteh needs; none changes anything. The fixes name one command each, the
one that converges that part (``make bootstrap`` locally, ``make wire STAGE=...``
on AWS, ``make migrate``...).

The resize function is reached one of two ways, and the checks follow it:
S3 invokes the function directly (the dev stage), or S3 sends events to an SQS
queue that Lambda's mapping (production) or the local relay reads.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from kitteh.aws import control_client, error_code, s3_client, sqs_client
from kitteh.config import Settings
from kitteh.migrate import SchemaState, check_schema, migrate_fix
from ops import bootstrap
from ops.account import (
    NoCredentials,
    api_url,
    app_origins,
    caller_identity,
    first_line,
    missing_secrets,
    read_remote_env,
    secrets_fix,
)
from ops.stage import RESIZE_FUNCTION, Stage, StageError
from ops.wiring import BATCH_FAILURES, policy_statements


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``ok`` True, False, or None when it does not apply."""

    name: str
    ok: bool | None
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class Fixes:
    """The commands that fix things, for the kind of stack checked."""

    secrets: str
    converge: str
    migrate: str
    deploy: str = "make deploy STAGE=<stage>"


@dataclass
class Target:
    """What is checked: a stack's settings, how events reach the resize function, its origins."""

    settings: Settings
    #: The environment the settings came from (the secrets object, for a stage).
    provided: Mapping[str, str]
    #: Browser origins the app is served on; uploads from them must pass CORS.
    app_origins: tuple[str, ...]
    fixes: Fixes
    #: The deployed function (None for a local stack, whose relay plays Lambda).
    function_name: str | None = None
    #: The Lambda runtime the function must run: the stage's, which the tests run on.
    runtime: str | None = None
    #: True when S3 notifies a queue that the resize function reads.
    uses_queue: bool = True
    #: The function's timeout, which the queue's visibility must outlast.
    function_timeout: int = 60
    #: Why the settings could not be read, when they could not (a stage's secrets).
    settings_error: str | None = None
    description: str = ""


@dataclass
class Report:
    target: Target
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.checks)

    def render(self) -> str:
        lines = [f"kitteh doctor: {self.target.description}"]
        for check in self.checks:
            mark = {True: "ok  ", False: "FAIL", None: "n/a "}[check.ok]
            lines.append(f"  {mark} {check.name:<13}{check.message}")
            if check.ok is False and check.fix:
                lines.append(f"       {'':<13}fix: {check.fix}")
        failed = [c.name for c in self.checks if c.ok is False]
        lines.append(
            f"{len(failed)} of {len(self.checks)} checks failed: {', '.join(failed)}"
            if failed
            else "all checks passed"
        )
        return "\n".join(lines)


@dataclass
class Clients:
    """The AWS clients the checks read with (moto, LocalStack or AWS)."""

    s3: Any
    sqs: Any
    lam: Any = None


# Checks ---------------------------------------------------------------------------


def check_settings(target: Target, clients: Clients) -> Check:
    if target.settings_error:
        return Check("settings", False, target.settings_error, target.fixes.secrets)
    missing = missing_secrets(target.provided)
    if missing:
        return Check("settings", False, f"{' and '.join(missing)} not set", target.fixes.secrets)
    return Check("settings", True, "SECRET_KEY and DATABASE_URL are set")


def _schema(database_url: str) -> SchemaState:
    # kitteh.migrate's check_schema, through an engine of the doctor's own: the app's
    # (get_engine) would create a missing SQLite file (and its folder), and report
    # the database as answering, and a check must change nothing. A short connect
    # timeout: an unreachable server (a VPC-only RDS seen from a laptop) would hang.
    url = make_url(database_url)
    args = {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=args)
    try:
        with engine.connect() as connection:
            return check_schema(connection)
    finally:
        engine.dispose()


def check_database(target: Target, clients: Clients) -> Iterator[Check]:
    """Two checks: the database answers, and its schema is at the code's head."""
    if not target.provided.get("DATABASE_URL", "").strip():
        yield Check("database", None, "no DATABASE_URL to connect to")
        yield Check("schema", None, "no DATABASE_URL to read the schema from")
        return
    url = make_url(target.settings.database_url)
    where = url.render_as_string(hide_password=True)
    try:
        schema = _schema(target.settings.database_url)
    except Exception as exc:
        yield Check(
            "database",
            False,
            f"{where} does not answer: {first_line(exc)}",
            "check DATABASE_URL, and that the server accepts connections from here",
        )
        yield Check("schema", None, "the database does not answer")
        return
    yield Check("database", True, f"{url.get_backend_name()} answers ({where})")
    if schema.problem:
        yield Check("schema", False, schema.problem, target.fixes.migrate)
    else:
        yield Check("schema", True, f"at {schema.head}, the code's head")


def _buckets(settings: Settings) -> list[str]:
    return list(dict.fromkeys((settings.bucket, settings.variants_bucket_name)))


def check_buckets(target: Target, clients: Clients) -> Check:
    problems = []
    for bucket in _buckets(target.settings):
        try:
            clients.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            reason = {"404": "does not exist", "403": "is not ours to read (403)"}.get(
                error_code(exc), error_code(exc)
            )
            problems.append(f"{bucket} {reason}")
    if problems:
        return Check("buckets", False, "; ".join(problems), target.fixes.converge)
    buckets = _buckets(target.settings)
    return Check("buckets", True, f"{', '.join(buckets)} exist{'s' if len(buckets) == 1 else ''}")


def check_private(target: Target, clients: Clients) -> Check:
    bucket = target.settings.bucket
    try:
        block = clients.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        block = {}
    off = [name for name in bootstrap.PUBLIC_ACCESS_BLOCK if not block.get(name)]
    if off:
        return Check(
            "private",
            False,
            f"{bucket}'s Public Access Block leaves {', '.join(off)} off: a policy or ACL "
            "could expose the originals",
            target.fixes.converge,
        )
    return Check("private", True, f"{bucket} blocks every kind of public access")


def _origin_allowed(rule: Mapping[str, Any], origin: str) -> bool:
    # S3 matches each AllowedOrigin as a pattern with at most one "*".
    return any(fnmatch.fnmatchcase(origin, allowed) for allowed in rule.get("AllowedOrigins", []))


def check_cors(target: Target, clients: Clients) -> Check:
    bucket = target.settings.bucket
    if not target.app_origins:
        return Check("cors", False, "the app's origin is unknown", target.fixes.converge)
    try:
        rules = clients.s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchCORSConfiguration":
            raise
        rules = []
    upload = set(bootstrap.UPLOAD_METHODS)
    refused = [
        origin
        for origin in target.app_origins
        if not any(_origin_allowed(r, origin) and upload <= set(r["AllowedMethods"]) for r in rules)
    ]
    if refused:
        allowed = sorted({o for r in rules for o in r.get("AllowedOrigins", [])})
        # A stage's wiring derives the origins itself; a local stack is told them.
        fix = target.fixes.converge
        if target.function_name is None:
            fix = f"KITTEH_CORS_ORIGINS={','.join(target.app_origins)} make bootstrap"
        return Check(
            "cors",
            False,
            f"{bucket} refuses browser uploads (POST) from {', '.join(refused)}; "
            f"its CORS allows {', '.join(allowed) or 'no origin'}",
            fix,
        )
    # Only Kitteh's own rule: other rules on the bucket are their owners' business.
    ours = {m for r in rules if r.get("ID") == bootstrap.CORS_RULE_ID for m in r["AllowedMethods"]}
    if ours - upload:
        return Check(
            "cors",
            False,
            f"{bucket}'s CORS rule {bootstrap.CORS_RULE_ID} also allows "
            f"{', '.join(sorted(ours - upload))}, which no browser of Kitteh's sends",
            target.fixes.converge,
        )
    return Check("cors", True, f"{bucket} takes uploads from {', '.join(target.app_origins)}")


def _prefix(entry: Mapping[str, Any]) -> str | None:
    """The entry's prefix filter ('' for none), None if it filters on a suffix only."""
    rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    prefixes = [r["Value"] for r in rules if r["Name"].lower() == "prefix"]
    return prefixes[0] if prefixes else ""


def _on_created(entry: Mapping[str, Any]) -> bool:
    return any(
        e in ("s3:ObjectCreated:*", "s3:*") or e.startswith("s3:ObjectCreated:")
        for e in entry.get("Events", [])
    )


def _queue_arn(sqs: Any, name: str) -> str | None:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError:
        return None
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


def _function_arn(lam: Any, name: str) -> str | None:
    try:
        arn: str = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except ClientError:
        return None
    return arn


def check_notification(target: Target, clients: Clients) -> Check:
    settings, prefix = target.settings, target.settings.originals_prefix
    config = clients.s3.get_bucket_notification_configuration(Bucket=settings.bucket)
    if target.uses_queue:
        kind, arn_key, target_arn = (
            "QueueConfigurations",
            "QueueArn",
            _queue_arn(clients.sqs, settings.queue_name),
        )
        what = f"queue {settings.queue_name}"
    else:
        assert target.function_name is not None
        kind, arn_key = "LambdaFunctionConfigurations", "LambdaFunctionArn"
        target_arn = _function_arn(clients.lam, target.function_name)
        what = f"function {target.function_name}"
    if target_arn is None:
        return Check("notification", False, f"the {what} does not exist", target.fixes.converge)
    entries = [e for e in config.get(kind, []) if e.get(arn_key) == target_arn and _on_created(e)]
    matching = [e for e in entries if _prefix(e) == prefix]
    if not matching:
        found = ", ".join(repr(_prefix(e)) for e in entries)
        detail = f" (only on prefix {found})" if found else ""
        return Check(
            "notification",
            False,
            f"no object-created notification on {settings.bucket}/{prefix} reaches "
            f"the {what}{detail}",
            target.fixes.converge,
        )
    if not target.uses_queue:
        entry_id = str(matching[0].get("Id", ""))
        if entry_id.rsplit(":", 1)[-1] != RESIZE_FUNCTION:
            return Check(
                "notification",
                False,
                f"the notification's id {entry_id!r} does not end in ':{RESIZE_FUNCTION}', "
                "by which Zappa routes S3 records to it",
                target.fixes.converge,
            )
        bucket_arn = f"arn:aws:s3:::{settings.bucket}"
        allowed = [
            s
            for s in policy_statements(clients.lam, target.function_name or "")
            if (s.get("Principal") or {}).get("Service") == "s3.amazonaws.com"
            and bucket_arn in json.dumps(s.get("Condition", {}))
        ]
        if not allowed:
            return Check(
                "notification",
                False,
                f"the {what}'s policy does not let {settings.bucket} invoke it",
                target.fixes.converge,
            )
    return Check(
        "notification", True, f"objects created under {settings.bucket}/{prefix} reach the {what}"
    )


def check_queue(target: Target, clients: Clients) -> Check:
    if not target.uses_queue:
        return Check("queue", None, "S3 invokes the function directly; no queue")
    sqs, name = clients.sqs, target.settings.queue_name
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError:
        return Check("queue", False, f"queue {name} does not exist", target.fixes.converge)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    problems = []
    visibility = int(attributes.get("VisibilityTimeout", 30))
    factor = bootstrap.VISIBILITY_TIMEOUT_FACTOR
    wanted = factor * target.function_timeout
    if visibility < wanted:
        problems.append(
            f"visibility timeout {visibility} s is under {factor}x the "
            f"function's {target.function_timeout} s ({wanted} s)"
        )
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    if not redrive:
        problems.append("no redrive policy: a poison message is retried forever")
    else:
        receives = int(redrive.get("maxReceiveCount", 0))
        if receives < bootstrap.MAX_RECEIVE_COUNT:
            problems.append(
                f"maxReceiveCount {receives} is under {bootstrap.MAX_RECEIVE_COUNT}: throttled "
                "batches reach the dead-letter queue unprocessed"
            )
        dlq_name = str(redrive.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
        if _queue_arn(sqs, dlq_name) is None:
            problems.append(f"its dead-letter queue {dlq_name or '(none)'} does not exist")
    if problems:
        return Check("queue", False, f"{name}: " + "; ".join(problems), target.fixes.converge)
    return Check(
        "queue",
        True,
        f"{name}: visibility {visibility} s, dead letters after "
        f"{redrive['maxReceiveCount']} receives",
    )


def check_runtime(target: Target, clients: Clients) -> Check:
    if target.function_name is None or target.runtime is None:
        return Check("runtime", None, "no function: the local relay runs this Python")
    try:
        running = clients.lam.get_function_configuration(FunctionName=target.function_name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return Check(
            "runtime",
            False,
            f"the function {target.function_name} does not exist",
            target.fixes.deploy,
        )
    if running.get("Runtime") != target.runtime:
        return Check(
            "runtime",
            False,
            f"{target.function_name} runs {running.get('Runtime')}; the code is built and "
            f"tested for {target.runtime}",
            target.fixes.deploy,
        )
    return Check("runtime", True, f"{target.function_name} runs {target.runtime}")


def check_mapping(target: Target, clients: Clients) -> Check:
    if not target.uses_queue:
        return Check("mapping", None, "S3 invokes the function directly; no mapping")
    if target.function_name is None:
        return Check("mapping", None, "no function: the local relay reads the queue")
    queue_arn = _queue_arn(clients.sqs, target.settings.queue_name)
    if queue_arn is None:
        return Check("mapping", False, "its queue does not exist", target.fixes.converge)
    mappings = clients.lam.list_event_source_mappings(
        FunctionName=target.function_name, EventSourceArn=queue_arn
    )["EventSourceMappings"]
    if not mappings:
        return Check(
            "mapping",
            False,
            f"no event source mapping connects {target.settings.queue_name} to "
            f"{target.function_name}",
            "make deploy (Zappa creates the mapping from the stage's events)",
        )
    for mapping in mappings:
        if BATCH_FAILURES not in (mapping.get("FunctionResponseTypes") or []):
            return Check(
                "mapping",
                False,
                f"mapping {mapping['UUID']} does not report batch item failures",
                target.fixes.converge,
            )
        if mapping.get("State") not in (None, "Enabled", "Enabling", "Updating"):
            return Check(
                "mapping",
                False,
                f"mapping {mapping['UUID']} is {mapping['State']}",
                target.fixes.converge,
            )
    return Check(
        "mapping",
        True,
        f"{target.settings.queue_name} -> {target.function_name}, reporting batch item failures",
    )


def check_variants(target: Target, clients: Clients) -> Check:
    settings = target.settings
    bucket, variants_prefix = settings.variants_bucket_name, settings.variants_prefix
    config = clients.s3.get_bucket_notification_configuration(Bucket=bucket)
    triggering = []
    for kind in ("LambdaFunctionConfigurations", "QueueConfigurations", "TopicConfigurations"):
        for entry in config.get(kind, []):
            prefix = _prefix(entry) or ""
            overlaps = variants_prefix.startswith(prefix) or prefix.startswith(variants_prefix)
            if _on_created(entry) and overlaps:
                triggering.append(str(entry.get("Id") or kind))
    if triggering:
        return Check(
            "variants",
            False,
            f"writing under {bucket}/{variants_prefix} triggers {', '.join(triggering)}: "
            "every resize would start another",
            f"remove those notifications (aws s3api put-bucket-notification-configuration "
            f"--bucket {bucket} ...), then {target.fixes.converge}",
        )
    return Check(
        "variants", True, f"nothing is triggered by writes under {bucket}/{variants_prefix}"
    )


CheckFunction = Callable[[Target, Clients], "Check | Iterator[Check]"]
#: In the order they are reported; "database" also reports "schema".
CHECKS: tuple[tuple[str, CheckFunction], ...] = (
    ("settings", check_settings),
    ("database", check_database),
    ("buckets", check_buckets),
    ("private", check_private),
    ("cors", check_cors),
    ("notification", check_notification),
    ("queue", check_queue),
    ("mapping", check_mapping),
    ("runtime", check_runtime),
    ("variants", check_variants),
)


def diagnose(target: Target, clients: Clients) -> Report:
    """Run every check; one that AWS does not even answer fails with the reason."""
    report = Report(target)
    for name, check in CHECKS:
        try:
            outcome = check(target, clients)
            report.checks.extend([outcome] if isinstance(outcome, Check) else list(outcome))
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":
                report.checks.append(Check(name, None, "its bucket does not exist (see buckets)"))
            else:
                report.checks.append(
                    Check(name, False, f"AWS refused: {first_line(exc)}", target.fixes.converge)
                )
        except BotoCoreError as exc:
            report.checks.append(Check(name, False, f"AWS does not answer: {first_line(exc)}"))
    return report


# Targets ----------------------------------------------------------------------------


LOCAL_FIXES = Fixes(
    secrets="export SECRET_KEY=... DATABASE_URL=... (the values the app runs with)",
    converge="make bootstrap",
    migrate=migrate_fix(),
)


def stage_fixes(stage: Stage) -> Fixes:
    return Fixes(
        secrets=secrets_fix(stage),
        converge=f"make wire STAGE={stage.name}",
        migrate=migrate_fix(stage.name),
        deploy=f"make deploy STAGE={stage.name}",
    )


def local_target(
    env: Mapping[str, str], app_origins: tuple[str, ...], function_timeout: int
) -> Target:
    """The stack the environment names, whose local relay reads the event queue."""
    settings = Settings.from_env(env)
    where = settings.endpoint_url or "AWS"
    return Target(
        settings=settings,
        provided=dict(env),
        app_origins=app_origins,
        fixes=LOCAL_FIXES,
        uses_queue=True,
        function_timeout=function_timeout,
        description=f"bucket {settings.bucket} on {where}, queue {settings.queue_name}",
    )


def stage_target(
    stage: Stage,
    s3: Any,
    app_origins: tuple[str, ...],
    function_timeout: int,
    endpoint_url: str | None = None,
) -> Target:
    """A deployed stage: its settings, the secrets its remote_env names, its function."""
    error = None
    try:
        secrets = read_remote_env(s3, stage)
    except LookupError as exc:
        secrets, error = {}, f"the secrets cannot be read: {exc}"
    settings = stage.settings(secrets, endpoint_url)
    return Target(
        settings=settings,
        provided=secrets,
        app_origins=app_origins,
        fixes=stage_fixes(stage),
        function_name=stage.function_name,
        runtime=stage.runtime,
        uses_queue=stage.queue_arn is not None,
        function_timeout=function_timeout,
        settings_error=error,
        description=(
            f"stage {stage.name}: function {stage.function_name}, bucket {settings.bucket}, "
            f"{stage.region}"
        ),
    )


#: Where ``make run`` serves the app unless PORT says otherwise.
LOCAL_APP_URL = "http://127.0.0.1:{port}"


def _function_timeout(lam: Any, stage: Stage) -> int:
    """The deployed function's timeout (the stage's setting if it is not deployed)."""
    try:
        return int(lam.get_function_configuration(FunctionName=stage.function_name)["Timeout"])
    except ClientError:
        return stage.timeout_seconds


def run_doctor(stage_name: str | None, origins: tuple[str, ...] = ()) -> Report:
    """Check the stack the environment names, or the deployed stage ``stage_name``.

    ``origins`` default to the app's own: the stage's API URL and custom domain, or
    ``make run``'s address for a local stack.
    """
    env = os.environ
    if stage_name is None:
        try:
            timeout = Stage.load("production").timeout_seconds
        except (StageError, KeyError):
            timeout = 60
        port = env.get("PORT", "5000")
        target = local_target(env, origins or (LOCAL_APP_URL.format(port=port),), timeout)
        settings = target.settings
        clients = Clients(s3_client(settings), sqs_client(settings), None)
        return diagnose(target, clients)
    stage = Stage.load(stage_name)
    endpoint = env.get("AWS_ENDPOINT_URL") or None
    settings = stage.settings(endpoint_url=endpoint)
    try:
        caller_identity(control_client("sts", settings))
    except NoCredentials as exc:
        report = Report(local_target({}, (), 0))
        report.target.description = f"stage {stage.name}"
        report.checks.append(Check("credentials", False, str(exc), exc.fix))
        return report
    clients = Clients(s3_client(settings), sqs_client(settings), control_client("lambda", settings))
    if not origins:
        origins = app_origins(stage, api_url(control_client("cloudformation", settings), stage))
    target = stage_target(
        stage, clients.s3, origins, _function_timeout(clients.lam, stage), endpoint
    )
    return diagnose(target, clients)
