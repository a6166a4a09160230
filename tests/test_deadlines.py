"""The deadlines in kitteh.aws and kitteh.db add up to the promises docs/reliability.md makes."""

from __future__ import annotations

from kitteh import db
from kitteh.aws import BACKGROUND, INTERACTIVE
from tests.package.zappa_config import load_settings, stage_config

#: A page or API call answers within this, whatever one dependency does.
ANSWER_WITHIN_SECONDS = 10


def test_one_hanging_dependency_costs_a_request_less_than_its_answer_window() -> None:
    # A request makes at most one S3 call that can hang; a hanging PostgreSQL costs one
    # wait for an answer on a pooled connection, then one connection attempt.
    database = db.IO_TIMEOUT_SECONDS + db.CONNECT_TIMEOUT_SECONDS
    assert INTERACTIVE.worst_case_seconds < ANSWER_WITHIN_SECONDS
    assert database < ANSWER_WITHIN_SECONDS


def test_the_functions_give_up_on_s3_before_lambda_gives_up_on_them() -> None:
    settings = load_settings()
    # Zappa's default is 30 s; a stage that extends another inherits its value.
    timeouts = [stage_config(stage, settings).get("timeout_seconds", 30) for stage in settings]
    # A resize makes a handful of calls; one that hangs must end inside the function.
    assert BACKGROUND.worst_case_seconds < min(timeouts) / 2


def test_the_client_gives_the_server_time_to_answer_with_its_own_timeout() -> None:
    # A slow statement ends with the server's cancellation (a clear error), not ours.
    assert db.IO_TIMEOUT_SECONDS > db.STATEMENT_TIMEOUT_SECONDS
