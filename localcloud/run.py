"""``make run`` (``python -m localcloud.run``): the whole Kitteh flow on one machine, one command.

Two stacks, chosen by ``KITTEH_STACK``:

``embedded`` (the default)
    Needs nothing installed: moto's server answers S3 and SQS in-process on a
    loopback port, SQLite keeps the records. Both live only as long as the
    process: moto keeps objects in memory, so the database is made afresh at
    every start too (``instance/embedded-<pid>.db``, removed on exit), and no
    image is ever listed whose objects are gone.

``localstack``
    LocalStack on 127.0.0.1:4566 (started with ``localstack/start.sh`` when
    nothing answers there, and stopped again on exit) and PostgreSQL
    (``DATABASE_URL``, by default the local server's ``kitteh`` database).

Either way the same steps follow: migrate through the migrate function's code,
bootstrap buckets, queue and notification, relay each queued S3 event to the
resize function exactly as Lambda would deliver it, and serve the app.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from kitteh.logs import configure_logging
from localcloud.harness import LOCALSTACK_URL, localstack_problem
from localcloud.postgres import ensure_database

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/kitteh"

#: Fake credentials: local endpoints accept any, and a developer's real AWS keys
#: must never be sent to them (or, by a mistyped endpoint, to AWS).
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "kitteh-local",
    "AWS_SECRET_ACCESS_KEY": "kitteh-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_quietly(app: WSGIApplication, name: str) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread, logging no request lines; its URL.

    For servers whose requests would drown the output that matters: moto's S3 and SQS
    under ``make run``, the app under the load bench's hundreds of uploads.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietRequestHandler(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def start_embedded(cleanup: ExitStack) -> dict[str, str]:
    """Start moto's server on a loopback port; return the environment that points at it."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    endpoint = cleanup.enter_context(
        serve_quietly(DomainDispatcherApplication(create_backend_app), "moto")
    )
    # moto forgets every object when it stops, so the records go with it: a
    # database of this process's own, removed on exit (two stacks may run at once).
    database = ROOT / "instance" / f"embedded-{os.getpid()}.db"
    database.parent.mkdir(exist_ok=True)
    database.unlink(missing_ok=True)
    cleanup.callback(database.unlink, missing_ok=True)
    # kitteh.migrate serialises SQLite migrations with a lock file beside the database.
    cleanup.callback(Path(f"{database}.migrate-lock").unlink, missing_ok=True)
    log.info("embedded S3 + SQS (moto) at %s; SQLite at %s", endpoint, database)
    return {"AWS_ENDPOINT_URL": endpoint, "DATABASE_URL": f"sqlite:///{database}"}


def start_localstack(cleanup: ExitStack) -> dict[str, str]:
    """Use the LocalStack on 127.0.0.1:4566, starting it (and stopping it later) if needed."""
    if localstack_problem() is None:
        log.info("using the LocalStack already running at %s", LOCALSTACK_URL)
    else:
        subprocess.run([str(ROOT / "localstack" / "start.sh")], check=True)
        cleanup.callback(subprocess.run, [str(ROOT / "localstack" / "stop.sh")], check=False)
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_LOCAL_POSTGRES
    ensure_database(database_url)
    return {"AWS_ENDPOINT_URL": LOCALSTACK_URL, "DATABASE_URL": database_url}


STACKS: dict[str, Callable[[ExitStack], dict[str, str]]] = {
    "embedded": start_embedded,
    "localstack": start_localstack,
}


def run(stack: str, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    with ExitStack() as cleanup:
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ.update(STACKS[stack](cleanup))

        # Imported only now: they read their settings from the environment above.
        from app import create_app
        from handlers import migrate, resize
        from kitteh.aws import sqs_client
        from kitteh.config import Settings
        from localcloud.relay import EventRelay
        from localcloud.runtime import LambdaContext, lambda_invoker
        from ops.bootstrap import bootstrap

        log.info("migrate: %s", migrate.handler({}, LambdaContext(function_name="migrate")))
        settings = Settings.from_env()
        origin = f"http://{host}:{port}"
        summary = bootstrap(settings, app_origins=[origin, f"http://localhost:{port}"])

        relay = EventRelay(
            sqs_client(settings), summary["queue_url"], lambda_invoker(resize.handler)
        )
        cleanup.enter_context(relay.running())

        log.info("Kitteh (%s stack) at %s — Ctrl-C stops everything", stack, origin)
        run_simple(host, port, create_app(settings), threaded=True, use_reloader=False)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    configure_logging()
    stack = os.environ.get("KITTEH_STACK", "embedded").strip() or "embedded"
    if stack not in STACKS:
        log.error("KITTEH_STACK must be one of %s, not %r", ", ".join(STACKS), stack)
        return 2
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    # SIGTERM (from `kill` or a process manager) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run(stack, host, port)
    except KeyboardInterrupt:
        pass
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
