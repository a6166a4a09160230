"""One command per deploy action on a stage of zappa_settings.json (docs/deploy.md).

    make deploy STAGE=dev      python -m scripts.deploy deploy dev
    make migrate STAGE=dev     python -m scripts.deploy migrate dev [--revision REV]
    make wire STAGE=dev        python -m scripts.deploy wire dev
    make logs STAGE=dev        python -m scripts.deploy logs dev [--since 1h]
    make undeploy STAGE=dev    python -m scripts.deploy undeploy dev

Only the command line: the steps, and what each command runs, are :mod:`ops.deploy`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ops.deploy import COMMANDS, run
from ops.stage import SETTINGS_FILE


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; return its exit status."""
    parser = argparse.ArgumentParser(prog="scripts/deploy.py", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("stage")
    parser.add_argument("--settings", type=Path, default=SETTINGS_FILE, help="Zappa settings file")
    parser.add_argument("--zip", type=Path, help="deploy this zip instead of building one")
    parser.add_argument(
        "--url", help="smoke-test this base URL (a custom domain) instead of the API's"
    )
    parser.add_argument("--revision", help="migrate: the revision to go to (default head)")
    parser.add_argument("--since", default="1h", help="logs: how far back to start")
    args = parser.parse_args(argv)
    return run(
        args.command,
        args.stage,
        settings_file=args.settings,
        zip_path=args.zip,
        url=args.url,
        revision=args.revision,
        since=args.since,
    )


if __name__ == "__main__":
    raise SystemExit(main())
