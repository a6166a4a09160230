"""Time the package's cold imports, as docs/deploy.md quotes them.

    .venv/bin/python -m tests.package.coldstart [RUNS]

Each import runs in a fresh bare interpreter (``-I -S -B``) on the unzipped
build/dev.zip, with no bytecode cache, like a new Lambda container on its
read-only /var/task. Prints the median and minimum of RUNS runs per module.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.package.build import ensure_package, runtime_layer, unpack
from tests.package.container import PYTHON

MODULES = ("handler", "app", "handlers.resize")
#: What the app needs to import at all on "Lambda" (it refuses to start without a key).
ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "AWS_LAMBDA_FUNCTION_NAME": "kitteh-dev",
    "SECRET_KEY": "coldstart",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SNIPPET = (
    "import sys, time; sys.path[:0] = sys.argv[1:3]; t = time.perf_counter(); "
    "import {module}; print((time.perf_counter() - t) * 1000)"
)


def time_import(module: str, task_root: Path, runtime_dir: Path) -> float:
    """Milliseconds to import ``module`` in a fresh interpreter."""
    done = subprocess.run(
        [PYTHON, "-I", "-S", "-B", "-c", SNIPPET.format(module=module), task_root, runtime_dir],
        env=ENV,
        cwd=task_root,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main(runs: int = 7) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        task_root = unpack(ensure_package(), Path(tmp) / "task")
        runtime_dir = runtime_layer(Path(tmp) / "runtime")
        for module in MODULES:
            times = [time_import(module, task_root, runtime_dir) for _ in range(runs)]
            sys.stdout.write(
                f"import {module}: median {statistics.median(times):.0f} ms, "
                f"min {min(times):.0f} ms ({runs} runs)\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
