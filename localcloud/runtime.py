"""Lambda's side of an invocation: the context object, and a handler bound to it.

Standard library only: ``tests/package/lambda_runner.py`` loads this file into a
bare interpreter that holds nothing but the unzipped Lambda package.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Hands one event to a function, the way Lambda invokes it.
Deliver = Callable[[dict[str, Any]], object]


@dataclass
class LambdaContext:
    """Stand-in for the context object Lambda passes to a handler.

    It carries the attributes handlers, Zappa and AWS Lambda Powertools read, with a
    fresh ``aws_request_id`` per invocation, and a deadline so that
    :meth:`get_remaining_time_in_millis` counts down as it does on Lambda.
    """

    function_name: str = "kitteh-local"
    memory_limit_in_mb: int = 1024
    #: The function's timeout; kept below the queue's visibility timeout.
    timeout_seconds: float = 60.0
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: object | None = None
    client_context: object | None = None
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}"
            )
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would have stopped this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_environment(
    *,
    function_name: str,
    memory_mb: int,
    runtime: str,
    region: str,
    task_root: str,
    variables: Mapping[str, str],
    endpoint_url: str,
    access_key: str,
) -> dict[str, str]:
    """The environment Lambda gives a function: its own variables, then what Lambda sets.

    ``endpoint_url`` and ``access_key`` stand in for AWS itself (an emulator and the keys
    it takes, as the execution role's credentials would on AWS); the machine's own
    ``~/.aws`` is kept out.
    """
    return {
        **variables,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": task_root,
        "LANG": "C.UTF-8",
        "PATH": "/usr/bin:/bin",
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": access_key,
        # The one setting a real function lacks: where its AWS is.
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def lambda_invoker(handler: Callable[[dict[str, Any], Any], object], **context: Any) -> Deliver:
    """Bind ``handler`` to a fresh :class:`LambdaContext` per invocation.

    ``context`` holds the context's fields (``function_name``, ``timeout_seconds``…).
    """

    def deliver(event: dict[str, Any]) -> object:
        return handler(event, LambdaContext(**context))

    return deliver
