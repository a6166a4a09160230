"""Constants and small helpers shared by the bench's processes.

Stdlib only: the worker imports this module inside the process whose peak RSS is
measured, so it must not drag in numpy or Pillow by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"

#: The project reaches the shared data as ``../shared`` from its root.
IMAGES_DIR = Path(os.environ.get("BENCH_IMAGES", ROOT.parent / "shared" / "bench-images"))
INPUTS = ("small.jpg", "phone12.jpg", "large24.jpg", "alpha.png")

#: Largest first: the order kitteh cascades in (600 -> 300 -> 90).
SIZES: tuple[tuple[str, int], ...] = (("monstrous", 600), ("large", 300), ("tiny", 90))
SSIM_KIND = "large"
JPEG_QUALITY = 85

#: Methods in the order they are timed; kitteh goes first so a machine that gets
#: busier during the run penalises the baselines rather than the thing under test.
METHOD_ORDER = ("kitteh", "pyvips", "pillow_naive", "imagemagick")

#: Every worker runs on this one core (``taskset -c``); override on a shared box.
BENCH_CPU = os.environ.get("BENCH_CPU", "0")

#: Single-threaded libraries, so that "one core" holds even without taskset.
WORKER_ENV = {
    "VIPS_CONCURRENCY": "1",
    "MAGICK_THREAD_LIMIT": "1",
    "OMP_NUM_THREADS": "1",
}


class Out(NamedTuple):
    """One encoded rendition, as every method returns it."""

    kind: str
    data: bytes
    content_type: str
    width: int | None = None  # as claimed by the method, when it says
    height: int | None = None


def fit_box(size: tuple[int, int], box: int) -> tuple[int, int]:
    """Size that fits ``size`` inside ``box`` x ``box``, never upscaling (Pillow's rounding)."""
    w, h = size
    scale = min(box / w, box / h, 1.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


def worker_env() -> dict[str, str]:
    """Environment for a measured subprocess: ours plus the single-thread knobs."""
    env = dict(os.environ)
    env.update(WORKER_ENV)
    return env


def pinned(cmd: list[str]) -> list[str]:
    """Prefix ``cmd`` with ``taskset -c BENCH_CPU`` when taskset exists."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", BENCH_CPU, *cmd] if taskset else cmd


def _is_imagemagick(exe: str) -> bool:
    try:
        out = subprocess.run(
            [exe, "-version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.startswith("Version: ImageMagick")


@lru_cache(maxsize=1)
def find_convert() -> str | None:
    """Path of a real ImageMagick ``convert``.

    ``PATH`` may hold a stand-in ``convert`` (this workplace ships one that only
    previews PNGs), so each candidate is asked for its version before it is used.
    """
    candidates = [shutil.which("convert"), "/usr/bin/convert", "/usr/bin/convert-im6.q16"]
    for exe in candidates:
        if exe and os.access(exe, os.X_OK) and _is_imagemagick(exe):
            return exe
    return None
