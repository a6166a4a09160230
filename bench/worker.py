"""Measured subprocess: ``python -m bench.worker {time,rss,baseline} ...``.

Every measurement gets a fresh interpreter, started under ``taskset`` by the
parent, so one method's heap, caches and imported libraries never leak into
another's numbers. The result is one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from bench.common import Out
from bench.methods import METHODS

_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/avif": "avif"}


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM), in MiB.

    Not ``ru_maxrss`` of RUSAGE_SELF: Linux carries the high-water mark across
    ``execve``, so a worker forked from the parent (which holds the float SSIM
    references, hundreds of MB) would report the parent's peak instead of its own.
    """
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _maxrss_mb(resource.RUSAGE_SELF)


def _describe(outs: list[Out], outdir: Path) -> list[dict]:
    """Write the renditions and record what they really are (not what was claimed)."""
    from PIL import Image

    rows = []
    for o in outs:
        dest = outdir / f"{o.kind}.{_EXT.get(o.content_type, 'bin')}"
        dest.write_bytes(o.data)
        with Image.open(dest) as im:
            size, fmt, mode = im.size, im.format, im.mode
        claimed = (o.width, o.height) if o.width is not None else None
        rows.append(
            {
                "kind": o.kind,
                "content_type": o.content_type,
                "bytes": len(o.data),
                "width": size[0],
                "height": size[1],
                "format": fmt,
                "mode": mode,
                "path": str(dest),
                "claimed_matches": claimed in (None, size),
            }
        )
    return rows


def cmd_time(args: argparse.Namespace) -> dict:
    """Warm up, then time until both ``min_runs`` and the time budget are met."""
    fn = METHODS[args.method]
    data = Path(args.image).read_bytes()
    outdir = Path(args.outdir)
    for _ in range(args.warmup):
        fn(data, Path(args.image), outdir)
    times: list[float] = []
    cpu_times: list[float] = []  # this process's CPU time: blind to other processes' load
    start = time.perf_counter()
    outs: list[Out] = []
    while len(times) < args.min_runs or (
        time.perf_counter() - start < args.budget and len(times) < args.max_runs
    ):
        t0, c0 = time.perf_counter(), time.process_time()
        outs = fn(data, Path(args.image), outdir)
        times.append((time.perf_counter() - t0) * 1000)
        cpu_times.append((time.process_time() - c0) * 1000)
    impl = "kitteh.imaging" if args.method == "kitteh" else args.method
    described = _describe(outs, outdir)
    return {"times_ms": times, "cpu_ms": cpu_times, "outputs": described, "impl": impl}


def cmd_rss(args: argparse.Namespace) -> dict:
    """Run the method once in this fresh process and report its peak RSS."""
    data = Path(args.image).read_bytes()
    METHODS[args.method](data, Path(args.image), Path(args.outdir))
    return {
        "maxrss_mb": _peak_rss_mb(),
        "ru_maxrss_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "children_maxrss_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
        "input_mb": len(data) / 2**20,
    }


def cmd_baseline(args: argparse.Namespace) -> dict:
    """A bare interpreter (with this worker's own imports) that has imported Pillow."""
    import PIL.Image  # noqa: F401

    return {"maxrss_mb": _peak_rss_mb(), "ru_maxrss_mb": _maxrss_mb(resource.RUSAGE_SELF)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    r = sub.add_parser("rss")
    for sp in (t, r):
        sp.add_argument("method", choices=sorted(METHODS))
        sp.add_argument("image")
        sp.add_argument("outdir")
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--min-runs", type=int, default=7)
    t.add_argument("--max-runs", type=int, default=25)
    t.add_argument("--budget", type=float, default=2.0, help="seconds of extra runs")
    sub.add_parser("baseline")
    args = p.parse_args(argv)
    handler = {"time": cmd_time, "rss": cmd_rss, "baseline": cmd_baseline}[args.cmd]
    sys.stdout.write(json.dumps(handler(args)) + "\n")


if __name__ == "__main__":
    main()
