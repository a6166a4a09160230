"""``flask --app app kitteh …``: Kitteh's own commands, thin wrappers over the core.

Each command does what a Lambda function or a ``make`` target does, through the same
core function, so an operator with a shell (and the stage's environment) needs
nothing else: ``migrate`` is ``handlers.migrate``'s :func:`kitteh.migrate.upgrade`,
``bootstrap`` is :func:`kitteh.bootstrap.bootstrap`, ``doctor`` is
:func:`kitteh.doctor.run_doctor` (what ``make doctor`` runs), ``delete`` is what
``DELETE /api/images/<name>`` does, without the uploader's token (a takedown).
"""

from __future__ import annotations

import json
from dataclasses import replace

import click

from kitteh.config import Settings


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
    from kitteh.bootstrap import bootstrap

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
    from kitteh.doctor import run_doctor

    report = run_doctor(stage, origins)
    click.echo(report.render())
    if not report.ok:
        raise SystemExit(1)


@kitteh_command.command("delete")
@click.argument("names", nargs=-1, required=True)
def delete_command(names: tuple[str, ...]) -> None:
    """Delete images by name, with their originals and variants (no delete token needed)."""
    from kitteh.db import transaction
    from kitteh.images import delete_image, get_image
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
