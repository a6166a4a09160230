"""The resize benchmark: speed, peak RSS, bytes and SSIM of each method per input.

All measured work happens in ``bench.worker`` subprocesses pinned to one core;
this process only starts them and scores their outputs (``bench.quality``).

Timing is interleaved: each method's runs are split over ``ROUNDS`` worker
processes, started round-robin (kitteh, pyvips, naive, ImageMagick, kitteh, ...).
On a shared machine the load drifts over a run; interleaving spreads that drift
over all methods instead of charging it to whichever ran during a busy spell,
which matters most for the close kitteh-vs-pyvips ratio.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import IMAGES_DIR, INPUTS, METHOD_ORDER, ROOT, SSIM_KIND, pinned, worker_env
from bench.quality import Reference

WORKER_TIMEOUT_S = 300
ROUNDS = 3
MIN_RUNS = 9  # in total over the rounds, after each round's warm-up run
BUDGET_S = 2.0  # extra runs for fast methods, in total over the rounds


def _worker(*args: str) -> dict[str, Any]:
    """Run one fresh, pinned worker process and return its JSON (or an error)."""
    cmd = pinned([sys.executable, "-m", "bench.worker", *args])
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def baseline_rss_mb() -> float | None:
    """Peak RSS of a fresh interpreter that imported Pillow and nothing else."""
    return _worker("baseline").get("maxrss_mb")


def _time_round(method: str, image: Path, outdir: Path) -> dict[str, Any]:
    return _worker(
        "time", method, str(image), str(outdir),
        "--warmup", "1",
        "--min-runs", str(math.ceil(MIN_RUNS / ROUNDS)),
        "--budget", str(BUDGET_S / ROUNDS),
    )  # fmt: skip


def _summarise(
    timed: dict[str, Any], times: list[float], rss: dict[str, Any], ref: Reference
) -> dict[str, Any]:
    """One method's row: time stats, RSS, bytes, dimensions and SSIM of its 300 px output."""
    outputs = {o["kind"]: o for o in timed["outputs"]}
    large = outputs.get(SSIM_KIND)
    return {
        "impl": timed["impl"],
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "runs": len(times),
        "peak_rss_mb": rss.get("maxrss_mb"),
        "children_peak_rss_mb": rss.get("children_maxrss_mb"),
        "bytes": {k: o["bytes"] for k, o in outputs.items()},
        "total_bytes": sum(o["bytes"] for o in outputs.values()),
        "dims": {k: [o["width"], o["height"]] for k, o in outputs.items()},
        "formats": {k: o["format"] for k, o in outputs.items()},
        "claimed_dims_match": all(o["claimed_matches"] for o in outputs.values()),
        "ssim_300": ref.score(Path(large["path"])) if large else None,
    }


def measure_methods(image: Path, ref: Reference, tmp: Path) -> dict[str, dict[str, Any]]:
    """Interleaved timing rounds for every method, then one RSS run each."""
    times: dict[str, list[float]] = {m: [] for m in METHOD_ORDER}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for method in METHOD_ORDER:
            if "error" in last.get(method, {}):
                continue
            (tmp / method).mkdir(exist_ok=True)
            last[method] = res = _time_round(method, image, tmp / method)
            times[method] += res.get("times_ms", [])
    rows = {}
    for method in METHOD_ORDER:
        if "error" in last[method]:
            rows[method] = {"error": last[method]["error"]}
        else:
            rss = _worker("rss", method, str(image), str(tmp / method))
            rows[method] = _summarise(last[method], times[method], rss, ref)
        r = rows[method]
        msg = r.get("error") or f"{r['median_ms']:8.1f} ms  ssim {r['ssim_300']:.4f}"
        print(f"  {image.name:12} {method:13}{msg}", file=sys.stderr)
    return rows


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def measure_input(name: str, baseline_mb: float | None) -> dict[str, Any]:
    """Every method on one input, plus the flat keys ``results.json`` promises."""
    image = IMAGES_DIR / name
    ref = Reference(image.read_bytes())
    row: dict[str, Any] = {"reference_ssim_300": ref.reference_ssim()}
    with tempfile.TemporaryDirectory(prefix="kitteh-bench-") as tmp:
        row["methods"] = measure_methods(image, ref, Path(tmp))
    for method, res in row["methods"].items():
        row[f"{method}_ms"] = res.get("median_ms")
        row[f"{method}_min_ms"] = res.get("min_ms")
    k = row["methods"]["kitteh"]
    row["kitteh_impl"] = k.get("impl")
    row["kitteh_peak_rss_mb"] = k.get("peak_rss_mb")
    row["kitteh_ssim_300"] = k.get("ssim_300")
    peak = k.get("peak_rss_mb")
    row["baseline_rss_mb"] = baseline_mb
    row["kitteh_rss_over_baseline_mb"] = peak - baseline_mb if peak and baseline_mb else None
    row["speedup_median"] = {m: _ratio(row[f"{m}_ms"], row["kitteh_ms"]) for m in METHOD_ORDER}
    row["speedup_min"] = {m: _ratio(row[f"{m}_min_ms"], row["kitteh_min_ms"]) for m in METHOD_ORDER}
    return row


def run(inputs: tuple[str, ...] = INPUTS) -> dict[str, Any]:
    """The resize part of ``results.json``: one entry per input name."""
    baseline = baseline_rss_mb()
    return {name: measure_input(name, baseline) for name in inputs}
