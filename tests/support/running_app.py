"""Start ``python -m localcloud.run`` (what ``make run`` runs) for end-to-end tests over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from localcloud.run import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_app(
    log_path: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> Iterator[str]:
    """Start the local stack and app, yield its base URL, stop it with SIGTERM."""
    port = free_port()
    environment = {**os.environ, "PORT": str(port), **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.run"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base_url, process, log_path, timeout)
            yield base_url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localcloud.run exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"localcloud.run did not become healthy:\n{log_path.read_text()[-3000:]}")


def wait_until_processed(base_url: str, name: str, timeout: float = 30) -> dict[str, object]:
    """Poll the API until the image is no longer pending; return its resource."""
    deadline = time.monotonic() + timeout
    while True:
        resource: dict[str, object] = requests.get(
            f"{base_url}/api/images/{name}", timeout=5
        ).json()
        if resource["status"] != "pending" or time.monotonic() > deadline:
            return resource
        time.sleep(0.1)
