"""``flask --app app kitteh …``: Kitteh's own commands, thin wrappers over the core.

Each command does what a Lambda function or a ``make`` target does, through the same
core function, so an operator with a shell (and the stage's environment) needs
nothing else: ``migrate`` is ``handlers.migrate``'s :func:`kitteh.migrate.upgrade`,
``bootstrap`` is :func:`ops.bootstrap.bootstrap`, ``doctor`` is
:func:`ops.doctor.run_doctor` (what ``make doctor`` runs), ``delete`` is what
``DELETE /api/images/<name>`` does, without the uploader's token (a takedown),
``reprocess`` is :func:`kitteh.reprocess.reprocess`, ``stats`` is
:func:`kitteh.stats.collect`. Their imports wait until they run: ``app.py`` imports
this module on Lambda too, whose package holds no ``ops/`` (``bootstrap`` and
``doctor`` then say so, see :func:`_needs_ops`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace

import click

from kitteh.config import Settings


@contextmanager
def _needs_ops(command: str) -> Iterator[None]:
    """Turn a missing ``ops`` package, imported inside the block, into the command's error.

    ``ops/`` is the operator's, left out of the Lambda package; there (or in any
    install without it) ``command`` fails with where to run it instead of a traceback.
    A module missing from inside ``ops`` (boto3, say) is re-raised as it is.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name != "ops" and not (exc.name or "").startswith("ops."):
            raise
        raise click.ClickException(
            f"flask kitteh {command} needs the ops/ package, which the Lambda package "
            f"leaves out: run it from a checkout of Kitteh (make {command})"
        ) from exc


@click.group("kitteh")
def kitteh_command() -> None:
    """Kitteh's own commands."""


@kitteh_command.command("migrate")
@click.option("--revision", default="head", show_default=True, help="Revision to go to.")
def migrate_command(revision: str) -> None:
    """Bring the database schema to a revision (what handlers.migrate does)."""
    from kitteh.migrate import MigrationError, upgrade

    try:
        result = upgrade(Settings.from_env().database_url, revision)
    except MigrationError as exc:
        raise click.ClickException(f"{exc} (the schema stands at {exc.revision})") from exc
    click.echo(json.dumps(result.as_dict()))


@kitteh_command.command("bootstrap")
@click.option("--origin", "origins", multiple=True, help="Browser origin allowed to upload.")
@click.option(
    "--queue/--no-queue",
    default=True,
    show_default=True,
    help="Also the SQS queue and S3 → SQS notification (not on AWS with Zappa's trigger).",
)
def bootstrap_command(origins: tuple[str, ...], queue: bool) -> None:
    """Create buckets, CORS and the event queue (idempotent; AWS included)."""
    with _needs_ops("bootstrap"):
        from ops.bootstrap import bootstrap

    settings = Settings.from_env()
    if origins:
        settings = replace(settings, cors_origins=origins)
    click.echo(json.dumps(bootstrap(settings, with_queue=queue), indent=2))


@kitteh_command.command("doctor")
@click.option(
    "--stage",
    help="A deployed stage of zappa_settings.json (read with your AWS credentials); "
    "without it, the stack the environment names.",
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="An origin the app is served on (default: the stage's API URL and domain, "
    "or make run's address).",
)
def doctor_command(stage: str | None, origins: tuple[str, ...]) -> None:
    """Check a running stack end to end; say what is wrong and the command that fixes it."""
    with _needs_ops("doctor"):
        from ops.doctor import run_doctor

    report = run_doctor(stage, origins)
    click.echo(report.render())
    if not report.ok:
        raise SystemExit(1)


@kitteh_command.command("delete")
@click.argument("names", nargs=-1, required=True)
def delete_command(names: tuple[str, ...]) -> None:
    """Delete images by name, with their originals and variants (no delete token needed)."""
    from kitteh.db import transaction
    from kitteh.deletion import delete_image
    from kitteh.gallery import get_image
    from kitteh.storage import get_storage

    settings = Settings.from_env()
    missing = []
    for name in names:
        with transaction(settings.database_url) as session:
            image = get_image(session, name)
            if image is None:
                missing.append(name)
                continue
            delete_image(session, get_storage(settings), image)
        click.echo(f"deleted {image.name}")
    if missing:
        raise click.ClickException(f"no image is named {', '.join(missing)}")


@kitteh_command.command("reprocess")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every image not made by today's recipe.")
@click.option("--failed", is_flag=True, help="The failed images only.")
@click.option("--force", is_flag=True, help="Also images made by today's recipe already.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default=True,
    help="Images rendered at once.",
)
def reprocess_command(
    names: tuple[str, ...], everything: bool, failed: bool, force: bool, jobs: int
) -> None:
    """Render images again: NAMES, or --all, or --failed.

    Gives images made before a change of sizes or formats today's variants, and
    failed ones another try. Each image is committed when done and images made by
    today's recipe are skipped, so a run stopped half-way resumes where it stopped,
    and a second run changes nothing.
    """
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from kitteh.db import transaction
    from kitteh.reprocess import Outcome, Result, reprocess, select_images
    from kitteh.storage import Storage

    if sum((bool(names), everything, failed)) != 1:
        raise click.UsageError("name the images, or give --all or --failed (one of the three)")
    settings = Settings.from_env()
    with transaction(settings.database_url) as session:
        selection = select_images(
            session, everything=everything, failed=failed, image_names=names, force=force
        )
    if selection.unknown:
        raise click.ClickException(f"no image is named {', '.join(selection.unknown)}")
    if not selection.images:
        click.echo(
            "nothing to do: every image asked for is made by today's recipe (--force redoes)"
        )
        return

    with (
        tqdm(total=len(selection.images), unit="image", desc="reprocess") as bar,
        logging_redirect_tqdm(),
    ):

        def report(outcome: Outcome) -> None:
            bar.update()
            if outcome.result in (Result.FAILED, Result.ERROR, Result.PENDING):
                bar.write(f"{outcome.name}: {outcome.result}: {outcome.detail}")

        counts = reprocess(
            Storage(settings), selection.images, jobs=jobs, force=force, on_outcome=report
        )
    click.echo(", ".join(f"{result.value} {counts[result]}" for result in Result))
    if counts[Result.ERROR]:
        raise click.ClickException(
            f"{counts[Result.ERROR]} image(s) hit an error; run the same command again"
        )


@kitteh_command.command("stats")
@click.option("--json", "as_json", is_flag=True, help="As JSON, for scripts.")
def stats_command(as_json: bool) -> None:
    """Count images by status, and variant bytes by format."""
    from kitteh.db import transaction
    from kitteh.stats import collect

    with transaction(Settings.from_env().database_url) as session:
        stats = collect(session)
    if as_json:
        click.echo(json.dumps(asdict(stats), indent=2))
        return
    click.echo("images")
    for status, count in stats.images_by_status.items():
        click.echo(f"  {status:<12}{count:>10,}")
    click.echo(f"  {'outdated':<12}{stats.outdated:>10,}  ready, made by an older recipe")
    click.echo(f"originals     {stats.originals:>10,}  {_megabytes(stats.original_bytes)}")
    click.echo("variants by format")
    for total in stats.variants_by_format:
        click.echo(f"  {total.content_type:<12}{total.objects:>10,}  {_megabytes(total.bytes)}")


def _megabytes(size: int) -> str:
    if size < 100_000:
        return f"{size / 1_000:12,.1f} kB"
    return f"{size / 1_000_000:12,.1f} MB"
