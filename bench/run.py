"""``make bench``: run every part and write ``bench/results.json`` and ``bench/RESULTS.md``.

The parts (:data:`PARTS`) run and report in order: :mod:`bench.resize` (kitteh against
pyvips, naive Pillow and ImageMagick), :mod:`bench.formats` (AVIF and WebP beside the
JPEG), :mod:`bench.coldstart` (import times, package size) and :mod:`bench.stack`
(upload to ready, the gallery at 10,000 images).

A new part is a module listed in :data:`PARTS` (in ``bench.stack.PARTS`` if it needs
LocalStack and PostgreSQL) with three functions:

* ``run(args) -> dict``: measure; return the entries it adds to ``results.json``: one
  key named after the part, unless it has reason to spread (resize keys each input
  by its file name);
* ``targets(results) -> list``: its checks (:func:`bench.report.check`), of ratios
  measured in the same run, never milliseconds; N/A when a figure is missing;
* ``render(results) -> list[str]``: its section of ``RESULTS.md`` (helpers in
  :mod:`bench.report`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import coldstart, formats, report, resize, stack
from bench.common import BENCH_CPU, BENCH_DIR, INPUTS, find_convert, run_measured

PARTS = (resize, formats, coldstart, stack)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__)
    p.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    p.add_argument("--no-stack", dest="stack", action="store_false", help="skip bench.stack")
    p.add_argument("--out", default=str(BENCH_DIR), help="where results.json/RESULTS.md go")
    args = p.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": describe_machine()}
    for part in PARTS:
        results.update(part.run(args))
    results["targets"] = [target for part in PARTS for target in part.targets(results)]
    results["machine"]["loadavg_end"] = os.getloadavg()[0]
    results["machine"]["bench_seconds"] = round(time.perf_counter() - started, 1)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "RESULTS.md").write_text(report.render(results, PARTS), encoding="utf-8")
    for t in results["targets"]:
        print(f"{t['status']:4}  {t['target']}: {t['detail']}", file=sys.stderr)
    seconds = results["machine"]["bench_seconds"]
    print(f"wrote {out}/results.json and RESULTS.md in {seconds} s", file=sys.stderr)
    broken = [key for key in stack.PARTS if "error" in results["stack"].get(key, {})]
    if broken:
        print(f"stack part(s) failed: {', '.join(broken)}; see results.json", file=sys.stderr)
        return 1
    return 0


def describe_machine() -> dict[str, Any]:
    """CPU, cores, load and library versions: ratios travel between machines far better
    than milliseconds, but only with the libraries behind them (libjpeg-turbo above all)."""
    import PIL
    import pyvips
    from PIL import features

    with open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next(line.split(":")[1].strip() for line in f if line.startswith("model name"))
    convert = find_convert()
    if convert is None:
        raise SystemExit("real ImageMagick not found; run bench/setup.sh")
    imagemagick = run_measured([convert, "-version"], pin=False).stdout.splitlines()[0]
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "pinned_cpu": BENCH_CPU,
        "loadavg_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "zlib": features.version("zlib"),
        "libwebp": features.version("webp"),
        "pyvips": pyvips.__version__,
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "imagemagick": imagemagick.removeprefix("Version: ").split(" https")[0],
    }


if __name__ == "__main__":
    sys.exit(main())
