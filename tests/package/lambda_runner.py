"""A stand-in for the Lambda Python runtime, run inside a bare interpreter.

Started by :class:`tests.package.container.LambdaContainer` as::

    python -I -S -B lambda_runner.py TASK_ROOT RUNTIME_DIR

with an environment that holds only the settings under test. ``-S`` keeps every
site-packages (the dev venv's too) off ``sys.path``, ``-I`` ignores ``PYTHON*``
variables and this file's own folder, ``-B`` writes no bytecode (Lambda's task
root is read-only). ``sys.path`` is then what Lambda's is: the unzipped package,
the runtime's own libraries (boto3 and friends), the standard library.

Like a warm container it imports ``handler`` once and serves events one after the
other: one JSON request per line on stdin, one JSON reply per line on stdout.
Everything the package prints (Zappa's access log, "Instancing..") goes to
stderr, the container's log. This file imports nothing but the standard library
until the package is on the path; the context object is the local cloud's own
(``localcloud/runtime.py``, standard library only), loaded from its file so that
nothing of the project's tree lands on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

RUNTIME_MODULE = Path(__file__).resolve().parents[2] / "localcloud" / "runtime.py"


def _load_runtime() -> Any:
    spec = importlib.util.spec_from_file_location("local_lambda_runtime", RUNTIME_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up while building
    spec.loader.exec_module(module)
    return module


LambdaContext = _load_runtime().LambdaContext


def _origins(names: list[str]) -> dict[str, str | None]:
    """Where each named module was loaded from (None: built in or not a file)."""
    import importlib

    found: dict[str, str | None] = {}
    for name in names:
        module = importlib.import_module(name)
        found[name] = getattr(module, "__file__", None)
    return found


def _decoders() -> dict[str, str]:
    """The interpreter's version and those of the image decoders the package loads."""
    import pi_heif
    from PIL import __version__ as pillow
    from PIL import features

    libheif = pi_heif.libheif_info()
    # "libde265 HEVC decoder, version 1.1.0"
    libde265 = libheif["decoders"]["libde265"].rsplit("version", 1)[-1].strip()
    return {
        "python": sys.version.split()[0],
        "pillow": pillow,
        "libheif": libheif["libheif"],
        "libde265": libde265,
        **{name: str(features.version(name)) for name in ("jpg", "webp", "avif", "zlib")},
    }


def _serve(request: dict[str, Any], handler: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        if "origins" in request:
            result: Any = _origins(request["origins"])
        elif "decoders" in request:
            result = _decoders()
        else:
            context = LambdaContext(
                function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "kitteh-dev"),
                memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")),
                timeout_seconds=int(request.get("timeout", 60)),
            )
            result = handler.lambda_handler(request["event"], context)
    except Exception as exc:  # what Lambda reports as a function error
        return {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "ms": (time.perf_counter() - started) * 1000,
        }
    return {"result": result, "ms": (time.perf_counter() - started) * 1000}


def main() -> int:
    task_root, runtime_dir = sys.argv[1], sys.argv[2]
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the package's prints join its log on stderr, a line at a time
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.path[:0] = [task_root, runtime_dir]
    os.chdir(task_root)

    started = time.perf_counter()
    import handler  # the zip's root handler.py, as Lambda's "handler.lambda_handler"

    ready = {"ready": True, "import_ms": (time.perf_counter() - started) * 1000}
    replies.write(json.dumps(ready) + "\n")
    for line in sys.stdin:
        reply = _serve(json.loads(line), handler)
        replies.write(json.dumps(reply, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
