"""A warm Lambda container, played by a bare interpreter running the unzipped package.

The process sees the package, a folder standing in for the Lambda runtime's own
libraries, the standard library, and an environment holding nothing but what
the test passes: the function's settings as Lambda would set them. No site-packages
of this machine is on its path, so an import that works here works from the zip.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from localcloud.runtime import lambda_environment
from tests.package.cloud import LOCALSTACK, LOCALSTACK_KEYS

RUNNER = Path(__file__).resolve().parent / "lambda_runner.py"
#: The interpreter behind the dev venv: with -S it has nothing installed on its path.
PYTHON = getattr(sys, "_base_executable", sys.executable)


class LambdaError(AssertionError):
    """The function raised (Lambda would report a function error) or the process died."""


class LambdaContainer:
    """Start ``handler.py`` from ``task_root`` once, then invoke it with events."""

    def __init__(
        self,
        task_root: Path,
        runtime_dir: Path,
        env: Mapping[str, str],
        log_path: Path,
        *,
        timeout: float = 120,
    ) -> None:
        self.log_path = log_path
        self.timeout = timeout
        self._log = log_path.open("w")
        self._proc = subprocess.Popen(
            [PYTHON, "-I", "-S", "-B", str(RUNNER), str(task_root), str(runtime_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=dict(env),
            cwd=task_root,
            text=True,
        )
        #: Milliseconds the runtime took to import ``handler`` (Lambda's init phase).
        self.import_ms: float = self._read()["import_ms"]

    def invoke(self, event: Mapping[str, Any], *, timeout: int = 60) -> Any:
        """Call ``handler.lambda_handler(event, context)``; return what it returned."""
        reply = self.request(event, timeout=timeout)
        if "error" in reply:
            raise LambdaError(f"{reply['error']}\n{reply['traceback']}\n{self.log_tail()}")
        return reply["result"]

    def request(self, event: Mapping[str, Any], *, timeout: int = 60) -> dict[str, Any]:
        """Invoke; return the runtime's reply as is: ``result``, or ``error`` and ``traceback``."""
        return self._request({"event": event, "timeout": timeout})

    def module_origins(self, *names: str) -> dict[str, str | None]:
        """Import ``names`` in the container and say which file each came from."""
        origins: dict[str, str | None] = self._request({"origins": list(names)})["result"]
        return origins

    def decoder_versions(self) -> dict[str, str]:
        """The container's Python, Pillow, libheif and libde265 versions (and Pillow's codecs)."""
        versions: dict[str, str] = self._request({"decoders": True})["result"]
        return versions

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def close(self) -> None:
        """End the process (stdin closed is its cue) and release the pipes; idempotent."""
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def __enter__(self) -> LambdaContainer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise LambdaError(f"the container exited\n{self.log_tail()}") from exc
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        # One request, one reply line: nothing is left in the reader's buffer
        # between replies, so select() on the pipe tells whether a reply came.
        ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout)
        line = self._proc.stdout.readline() if ready else ""
        if not line:
            state = "exited" if self._proc.poll() is not None else "did not answer"
            raise LambdaError(f"the container {state}\n{self.log_tail()}")
        reply: dict[str, Any] = json.loads(line)
        return reply


#: A fixture's factory: start a container whose secrets name this database URL.
StartContainer = Callable[[str], LambdaContainer]


def stage_environment(stage: str, config: dict[str, Any], task_root: Path) -> dict[str, str]:
    """A stage's function environment, with LocalStack standing in for AWS."""
    return lambda_environment(
        function_name=f"{config['project_name']}-{stage}",
        memory_mb=config["memory_size"],
        runtime=config["runtime"],
        region=config["aws_region"],
        task_root=str(task_root),
        variables=config["aws_environment_variables"],
        endpoint_url=LOCALSTACK,
        access_key=LOCALSTACK_KEYS["AWS_ACCESS_KEY_ID"],
    )
