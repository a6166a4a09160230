"""The deploy actions on a stage of zappa_settings.json, as steps (docs/deploy.md).

``scripts/deploy.py`` is their command line (``make deploy``, ``migrate``, ``wire``,
``logs``, ``undeploy``); :func:`run` is what it calls, one command per action.

``deploy`` runs every step of a first deploy or an update, in order, and stops at
the first that fails, saying what to do:

1. settings: the stage exists and holds no placeholder; AWS credentials answer;
   the secrets object (``remote_env``) holds SECRET_KEY and DATABASE_URL;
2. package: ``scripts/package.sh`` builds ``build/<stage>.zip`` (or ``--zip``
   names a zip already built and tested);
3. bootstrap: buckets, Public Access Block, and for a queue stage the queue, its
   dead-letter queue and the S3 -> SQS notification (Zappa needs the queue to
   exist to create its mapping);
4. ``zappa deploy`` or ``zappa update`` with that zip (whichever applies); Zappa's
   own post-deploy check requests ``touch_path`` (``/livez``);
5. migrate: ``zappa invoke <stage> handlers.migrate.handler`` (exits 1 on failure);
6. wire: CORS for the API's origin (and the custom domain), then S3 -> function
   (one permission, one notification: ops.wiring) or, for a queue stage,
   ReportBatchItemFailures on the mapping;
7. smoke test: ``GET /healthz`` answers 200, and one small JPEG uploaded through a
   presigned POST ends ``ready`` (it stays in the gallery, named
   ``kitteh-deploy-smoke-test.jpg``).

All of them call AWS with the deployer's credentials (AWS_PROFILE or the usual
variables); ``AWS_ENDPOINT_URL`` points them all at an emulator instead, as the
deploy rehearsal (tests/deploy) does.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kitteh.aws import control_client, error_code, s3_client, sqs_client
from kitteh.config import Settings
from kitteh.formats import JPEG
from kitteh.migrate import MIGRATE_FUNCTION
from ops import wiring
from ops.account import (
    NoCredentials,
    api_url,
    app_origins,
    caller_identity,
    missing_secrets,
    read_remote_env,
    secrets_fix,
)
from ops.bootstrap import bootstrap
from ops.stage import SETTINGS_FILE, Stage, StageError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_VENV = Path(os.environ.get("KITTEH_PACKAGE_VENV", ROOT / "build" / "venv"))
ZAPPA = PACKAGE_VENV / "bin" / "zappa"
SMOKE_TEST_NAME = "kitteh-deploy-smoke-test.jpg"
#: How long the smoke test's upload may take to become ready (a cold start included).
SMOKE_TEST_TIMEOUT = 120
HTTP_TIMEOUT = 30


class StepFailed(Exception):
    """A step failed; ``fix`` says what to do about it."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.fix = fix


def say(message: str) -> None:
    """Tell the deployer, at once: Zappa's own output is interleaved with ours."""
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()


@dataclass
class Context:
    """A stage and what the steps learn about it."""

    stage: Stage
    settings_file: Path
    settings: Settings
    #: The deployer's account, from STS.
    account: str = ""
    #: The API's URL, once Zappa has made it.
    url: str | None = None

    @property
    def name(self) -> str:
        return self.stage.name

    def client(self, service: str) -> Any:
        return control_client(service, self.settings)


# Steps ---------------------------------------------------------------------------------


def check_settings(ctx: Context) -> None:
    stage = ctx.stage
    placeholders = stage.placeholders()
    if placeholders:
        raise StepFailed(
            f"{len(placeholders)} settings still hold placeholders:\n    "
            + "\n    ".join(placeholders),
            f"put your account's values in {ctx.settings_file} (docs/deploy.md, section 3.1)",
        )
    try:
        ctx.account = caller_identity(ctx.client("sts"))
    except NoCredentials as exc:
        raise StepFailed(str(exc), exc.fix) from exc
    try:
        secrets = read_remote_env(s3_client(ctx.settings), stage)
    except LookupError as exc:
        raise StepFailed(str(exc), secrets_fix(stage)) from exc
    missing = missing_secrets(secrets)
    if missing:
        raise StepFailed(f"the secrets object lacks {' and '.join(missing)}", secrets_fix(stage))
    say(f"    account {ctx.account}, function {stage.function_name}, region {stage.region}")


def package(ctx: Context, zip_path: Path | None) -> Path:
    if zip_path is not None:
        if not zip_path.is_file():
            raise StepFailed(f"{zip_path} does not exist", "make package, or drop --zip")
        say(f"    using {zip_path}, as built and tested")
        return zip_path
    output = ROOT / "build" / f"{ctx.name}.zip"
    built = subprocess.run([str(ROOT / "scripts" / "package.sh"), ctx.name, str(output)], cwd=ROOT)
    if built.returncode != 0:
        raise StepFailed(
            "scripts/package.sh failed (see above)",
            f"build on Linux x86_64 with {ctx.stage.runtime} (docs/deploy.md, section 1)",
        )
    return output


def prepare(ctx: Context) -> None:
    """Buckets and privacy, and a queue stage's queue: what Zappa's deploy relies on."""
    ctx.url = api_url(ctx.client("cloudformation"), ctx.stage)
    queue_arn = ctx.stage.queue_arn
    summary = bootstrap(
        ctx.settings,
        s3=s3_client(ctx.settings),
        sqs=sqs_client(ctx.settings),
        app_origins=app_origins(ctx.stage, ctx.url),
        with_queue=queue_arn is not None,
    )
    if queue_arn is not None and summary["queue_arn"] != queue_arn:
        raise StepFailed(
            f"the stage's events name {queue_arn}, but the queue is {summary['queue_arn']}",
            f"put {summary['queue_arn']} in the stage's events in {ctx.settings_file}",
        )
    say(f"    bucket {ctx.settings.bucket}" + (f", queue {queue_arn}" if queue_arn else ""))


def function_exists(ctx: Context) -> bool:
    try:
        ctx.client("lambda").get_function(FunctionName=ctx.stage.function_name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


def zappa(ctx: Context, *args: str) -> int:
    """Run the build venv's Zappa with the stage's settings file; its output goes to ours."""
    if not ZAPPA.exists():
        raise StepFailed(f"{ZAPPA} is missing", "make package (it builds Zappa's own venv)")
    command = [str(ZAPPA), *args, "-s", str(ctx.settings_file)]
    return subprocess.run(command, cwd=ROOT).returncode


def deploy_or_update(ctx: Context, zip_path: Path) -> None:
    action = "update" if function_exists(ctx) else "deploy"
    say(f"    zappa {action} {ctx.name} -z {zip_path}")
    if zappa(ctx, action, ctx.name, "-z", str(zip_path), "--disable_progress") != 0:
        raise StepFailed(
            f"zappa {action} failed (see above)",
            f"read Zappa's message above; make doctor STAGE={ctx.name} checks the rest",
        )
    ctx.url = api_url(ctx.client("cloudformation"), ctx.stage)
    if ctx.url is None:
        raise StepFailed("Zappa made no API", f"check apigateway_enabled in {ctx.settings_file}")


def migrate(ctx: Context, revision: str | None = None) -> None:
    args = ["invoke", ctx.name, MIGRATE_FUNCTION, "--no-color"]
    if revision:
        args += ["--payload", json.dumps({"revision": revision})]
    if zappa(ctx, *args) != 0:
        raise StepFailed(
            "the migration failed; the message above says why and at which revision the "
            "schema stands",
            f"fix the migration and run make migrate STAGE={ctx.name} again; if this code "
            f"cannot run on that schema, roll it back: build/venv/bin/zappa rollback "
            f"{ctx.name} -n 1",
        )


def wire(ctx: Context) -> None:
    """Converge buckets, CORS and the resize function's trigger (idempotent: run it any time)."""
    stage, settings = ctx.stage, ctx.settings
    prepare(ctx)
    if ctx.url is None:
        raise StepFailed("the stage has no API yet", f"make deploy STAGE={ctx.name}")
    s3, lam = s3_client(settings), ctx.client("lambda")
    say(f"    CORS allows {', '.join(app_origins(stage, ctx.url))}")
    if stage.queue_arn is not None:
        try:
            changed = wiring.ensure_batch_failure_reporting(
                lam, stage.function_name, stage.queue_arn
            )
        except LookupError as exc:
            raise StepFailed(
                str(exc), f"make deploy STAGE={ctx.name} (Zappa creates the mapping)"
            ) from exc
        say(f"    mapping reports batch item failures{' (switched on)' if changed else ''}")
        return
    function = lam.get_function(FunctionName=stage.function_name)["Configuration"]
    function_arn = str(function["FunctionArn"])
    account = function_arn.split(":")[4]
    bucket_arn = f"arn:aws:s3:::{settings.bucket}"
    wiring.ensure_invoke_permission(lam, stage.function_name, bucket_arn, account)
    wiring.ensure_function_notification(
        s3, settings.bucket, function_arn, settings.originals_prefix
    )
    say(f"    {settings.bucket}/{settings.originals_prefix} invokes {stage.function_name}")


# Smoke test ------------------------------------------------------------------------------


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _json(status: int, body: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise StepFailed(f"{what} answered {status} with no JSON: {body[:200]!r}", "") from exc
    if not isinstance(document, dict):
        raise StepFailed(f"{what} answered {status}: {document!r}", "")
    return document


def _multipart(
    fields: dict[str, str], filename: str, data: bytes, content_type: str
) -> tuple[bytes, str]:
    boundary = f"kitteh{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def smoke_picture() -> bytes:
    """A small JPEG test card: a real image for the resize function to decode."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (320, 240), "#f4a300")
    ImageDraw.Draw(picture).ellipse((100, 60, 220, 180), fill="#3a2a1a")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def smoke_test(ctx: Context, base_url: str) -> None:
    doctor = f"make doctor STAGE={ctx.name}"
    status, body = http("GET", f"{base_url}/healthz")
    if status != 200:
        raise StepFailed(f"GET /healthz answered {status}: {body[:300]!r}", doctor)
    say("    GET /healthz: 200")

    picture = smoke_picture()
    request = {"filename": SMOKE_TEST_NAME, "content_type": JPEG.content_type, "size": len(picture)}
    status, body = http(
        "POST",
        f"{base_url}/api/uploads",
        json.dumps(request).encode(),
        {"Content-Type": "application/json"},
    )
    grant = _json(status, body, "POST /api/uploads")
    if status != 201:
        raise StepFailed(f"POST /api/uploads answered {status}: {grant}", doctor)
    form, content_type = _multipart(grant["fields"], SMOKE_TEST_NAME, picture, JPEG.content_type)
    status, body = http("POST", grant["url"], form, {"Content-Type": content_type})
    if status not in (200, 201, 204):
        raise StepFailed(f"the presigned POST to S3 answered {status}: {body[:300]!r}", doctor)
    say(f"    presigned POST of {grant['name']}: {status}")

    deadline = time.monotonic() + SMOKE_TEST_TIMEOUT
    while True:
        status, body = http("GET", f"{base_url}/api/images/{grant['name']}")
        image = _json(status, body, "GET /api/images/<name>")
        if image.get("status") != "pending" or time.monotonic() > deadline:
            break
        time.sleep(2)
    if image.get("status") != "ready":
        raise StepFailed(
            f"the uploaded image is {image.get('status')} after {SMOKE_TEST_TIMEOUT} s: "
            f"{image.get('error') or 'its S3 event did not reach the resize function'}",
            doctor,
        )
    say(f"    {grant['name']} is ready: {', '.join(sorted(image['variants']))}")


# Commands -----------------------------------------------------------------------------------


def run_steps(steps: Sequence[tuple[str, Callable[[], object]]]) -> int:
    for number, (title, step) in enumerate(steps, 1):
        say(f"==> [{number}/{len(steps)}] {title}")
        try:
            step()
        except StepFailed as exc:
            say(f"deploy: {title} failed: {exc}")
            if exc.fix:
                say(f"    to fix: {exc.fix}")
            return 1
        except (ClientError, BotoCoreError) as exc:
            say(f"deploy: {title} failed: AWS said {exc}")
            return 1
    return 0


def deploy_command(ctx: Context, zip_path: Path | None, url: str | None) -> int:
    built: list[Path] = []

    def base_url() -> str:
        assert ctx.url is not None
        return (url or ctx.url).rstrip("/")

    steps: list[tuple[str, Callable[[], object]]] = [
        ("settings, credentials and secrets", lambda: check_settings(ctx)),
        ("package", lambda: built.append(package(ctx, zip_path))),
        ("buckets and queues", lambda: prepare(ctx)),
        ("zappa deploy or update", lambda: deploy_or_update(ctx, built[0])),
        ("migrate", lambda: migrate(ctx)),
        ("wire events and CORS", lambda: wire(ctx)),
        ("smoke test", lambda: smoke_test(ctx, base_url())),
    ]
    status = run_steps(steps)
    if status == 0:
        say(f"deployed {ctx.name}: {base_url()}")
    return status


def undeploy_command(ctx: Context) -> int:
    def unwire() -> None:
        lam = ctx.client("lambda")
        try:
            arn = lam.get_function(FunctionName=ctx.stage.function_name)["Configuration"][
                "FunctionArn"
            ]
        except ClientError:
            say("    no function: nothing to unwire")
            return
        s3 = s3_client(ctx.settings)
        if wiring.remove_function_notification(s3, ctx.settings.bucket, str(arn)):
            say(f"    removed the notification of {ctx.settings.bucket}")

    def undeploy() -> None:
        if zappa(ctx, "undeploy", ctx.name, "--yes") != 0:
            raise StepFailed("zappa undeploy failed (see above)", "")

    return run_steps([("unwire S3", unwire), ("zappa undeploy", undeploy)])


#: The actions :func:`run` takes, as ``scripts/deploy.py`` names them.
COMMANDS = ("deploy", "migrate", "wire", "logs", "undeploy")


def run(
    command: str,
    stage_name: str,
    *,
    settings_file: Path = SETTINGS_FILE,
    zip_path: Path | None = None,
    url: str | None = None,
    revision: str | None = None,
    since: str = "1h",
) -> int:
    """Run one of :data:`COMMANDS` on ``stage_name``; return the exit status.

    0 when every step passed, 1 when one failed (what to do was said), 2 when the
    settings file has no such stage. ``zip_path`` and ``url`` are the deploy's,
    ``revision`` the migration's, ``since`` the logs'.
    """
    if command not in COMMANDS:
        raise ValueError(f"unknown deploy command {command!r} (one of {', '.join(COMMANDS)})")
    try:
        stage = Stage.load(stage_name, settings_file)
    except StageError as exc:
        say(f"deploy: {exc}")
        return 2
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    ctx = Context(stage, settings_file.resolve(), stage.settings(endpoint_url=endpoint))
    if command == "deploy":
        return deploy_command(ctx, zip_path, url)
    if command == "migrate":
        return run_steps([("migrate", lambda: migrate(ctx, revision))])
    if command == "wire":
        return run_steps([("wire events and CORS", lambda: wire(ctx))])
    if command == "logs":
        return run_steps([("logs", lambda: zappa(ctx, "tail", ctx.name, "--since", since))])
    return undeploy_command(ctx)
