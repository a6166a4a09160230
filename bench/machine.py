"""What the numbers were measured on: CPU, cores, load and library versions.

Ratios travel between machines far better than milliseconds do, but only if the
libraries behind them (libjpeg-turbo above all) are written down next to them.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

from bench.common import BENCH_CPU, find_convert


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _imagemagick() -> str | None:
    exe = find_convert()
    if not exe:
        return None
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.removeprefix("Version: ").split(" https")[0]


def _pyvips() -> dict[str, str | None]:
    try:
        import pyvips
    except Exception as exc:  # noqa: BLE001 - report any failure, never crash the bench
        return {"pyvips": None, "libvips": None, "error": str(exc)}
    libvips = ".".join(str(pyvips.version(i)) for i in range(3))
    return {"pyvips": pyvips.__version__, "libvips": libvips}


def describe() -> dict[str, Any]:
    """Machine and library facts for ``results.json`` and the report header."""
    import PIL
    from PIL import features

    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "pinned_cpu": BENCH_CPU,
        "loadavg_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "zlib": features.version("zlib"),
        "libwebp": features.version("webp"),
        **_pyvips(),
        "imagemagick": _imagemagick(),
    }
