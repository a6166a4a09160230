"""moto's server as the AWS account of the deploy rehearsal, with what it lacks filled in.

moto 5.2.5's server answers every control-plane call Zappa makes on deploy,
update, status and undeploy (IAM, S3, Lambda, CloudFormation, API Gateway,
CloudWatch Events, STS) with fake credentials, except two things, added here and
nowhere else:

- ``ListFunctionUrlConfigs`` (``zappa update`` asks it to delete any function
  URL): moto has no such route, so one is added that answers from moto's own
  function URL configurations (none, for Kitteh).
- Running a function: moto runs invocations in Docker, which this machine lacks.
  Invocations (``zappa invoke``, S3 notifications, the API stand-in) run the zip
  moto holds in a :class:`~tests.package.container.LambdaContainer` instead: the
  unzipped package in a bare interpreter, as the package tests do, with the
  function's environment as moto stores it plus the emulator's endpoint.

The server runs in this process (a thread), so both additions patch moto here;
Zappa and ``make deploy`` run unmodified in processes of their own.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import traceback
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto.awslambda import urls as lambda_urls
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

from localcloud.runtime import lambda_environment
from tests.package.container import LambdaContainer

ACCOUNT = DEFAULT_ACCOUNT_ID
#: Lambda's LogResult: the last 4 KB of the invocation's log.
LOG_TAIL_BYTES = 4096


def list_function_url_configs(
    request: Any, full_url: str, headers: Any
) -> tuple[int, dict[str, str], str]:
    """GET /2021-10-31/functions/<name>/urls, which moto 5.2.5 does not route."""
    name = full_url.split("/functions/", 1)[1].split("/", 1)[0]
    # The region is the signature's: Credential=KEY/DATE/REGION/lambda/aws4_request.
    scope = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", str(headers.get("Authorization", "")))
    backend = lambda_backends[ACCOUNT][scope.group(1) if scope else "us-east-1"]
    configs = []
    try:
        configs.append(backend.get_function_url_config(name).to_dict())
    except Exception:
        pass  # no URL configured: the usual answer, an empty list
    return 200, {"Content-Type": "application/json"}, json.dumps({"FunctionUrlConfigs": configs})


LIST_URLS_ROUTE = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/urls/?$"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class Runtime:
    """Lambda's runtime for the rehearsal: one warm container per function and code."""

    def __init__(self, endpoint: str, runtime_dir: Path, workdir: Path) -> None:
        self.endpoint = endpoint
        self.runtime_dir = runtime_dir
        self.workdir = workdir
        self._containers: dict[str, tuple[str, LambdaContainer]] = {}
        self._lock = threading.Lock()
        #: (function, event kind, ok) for each invocation, for the tests to read.
        self.invocations: list[tuple[str, str, bool]] = []

    def _container(self, function: LambdaFunction) -> LambdaContainer:
        code = hashlib.sha256(function.code_bytes).hexdigest()
        running = self._containers.get(function.function_name)
        if running is not None and running[0] == code:
            return running[1]
        if running is not None:
            running[1].close()
        task_root = self.workdir / f"{function.function_name}-{code[:12]}"
        if not task_root.exists():
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(task_root)
        container = LambdaContainer(
            task_root,
            self.runtime_dir,
            self._environment(function, task_root),
            task_root.with_suffix(".log"),
        )
        self._containers[function.function_name] = (code, container)
        return container

    def _environment(self, function: LambdaFunction, task_root: Path) -> dict[str, str]:
        return lambda_environment(
            function_name=function.function_name,
            memory_mb=function.memory_size,
            runtime=function.run_time,
            region=function.region,
            task_root=str(task_root),
            variables={str(k): str(v) for k, v in function.environment_vars.items()},
            endpoint_url=self.endpoint,
            access_key="rehearsal",  # the emulator takes any
        )

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """moto's ``_invoke_lambda``: (payload, errored, log tail)."""
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        kind = "command" if "command" in event else "http" if "httpMethod" in event else "records"
        with self._lock:
            if function.handler != "handler.lambda_handler":
                raise AssertionError(f"unexpected handler {function.handler!r}")
            container = self._container(function)
            started = len(container.log())
            reply = container.request(event, timeout=int(function.timeout))
            log = container.log()[started:]
            ok = "error" not in reply
            self.invocations.append((function.function_name, kind, ok))
            if ok:
                return json.dumps(reply["result"]), False, _tail(log)
            error_type, _, error_message = str(reply["error"]).partition(": ")
            payload = json.dumps({"errorMessage": error_message, "errorType": error_type})
            # Lambda's runtime logs an uncaught exception as "[ERROR] Type: message".
            return payload, True, _tail(f"{log}[ERROR] {reply['error']}\n{reply['traceback']}")

    def close(self) -> None:
        for _, container in self._containers.values():
            container.close()
        self._containers.clear()


def _tail(log: str) -> str:
    return log.encode()[-LOG_TAIL_BYTES:].decode(errors="ignore")


@contextmanager
def moto_server(runtime_dir: Path, workdir: Path) -> Iterator[tuple[str, Runtime]]:
    """Serve moto on a loopback port, with the two additions; yield (endpoint, runtime)."""
    original_invoke = LambdaFunction._invoke_lambda
    lambda_urls.url_paths[LIST_URLS_ROUTE] = list_function_url_configs
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=_Quiet,
    )
    endpoint = f"http://127.0.0.1:{server.server_port}"
    runtime = Runtime(endpoint, runtime_dir, workdir)

    def run_in_container(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        try:
            return runtime.invoke(self, event)
        except Exception:
            return json.dumps({"errorMessage": traceback.format_exc()}), True, ""

    LambdaFunction._invoke_lambda = run_in_container  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, name="moto-rehearsal", daemon=True)
    thread.start()
    try:
        yield endpoint, runtime
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()
        LambdaFunction._invoke_lambda = original_invoke  # type: ignore[method-assign]
        lambda_urls.url_paths.pop(LIST_URLS_ROUTE, None)


def code_sha256(data: bytes) -> str:
    """Lambda's CodeSha256 of a zip: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
