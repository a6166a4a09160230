"""The resize part: speed, peak RSS, bytes and SSIM of each method per input.

All measured work happens in :mod:`bench.worker` processes pinned to one core; this
process starts them and scores their outputs. Each method's runs are split over
``ROUNDS`` processes, started round-robin (kitteh, pyvips, naive, ImageMagick, kitteh,
...): the load of a shared machine drifts, and interleaving spreads the drift over all
methods instead of charging whichever ran in a busy spell (the kitteh/pyvips ratio is close).

Speed is only meaningful at equal quality, so every method's 300 px output is scored
(:class:`Reference`) against a "truth" made without any 8-bit shortcut: full decode,
EXIF orientation, sRGB, then a Lanczos-3 resize in 32-bit float from the full image.
A plain full-decode Pillow LANCZOS output, scored the same way, is the bar kitteh must
stay within 0.002 of (``reference_ssim_300``), so nobody wins by being blurry. Scoring
is on luminance (BT.601 weights, as MATLAB's ``rgb2gray`` used in Wang et al.);
transparent images are compared over black (premultiplied), which is also what a
JPEG encoder that drops alpha shows where alpha is 0.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps
from skimage.metrics import structural_similarity

from bench.common import IMAGES_DIR, run_json
from bench.report import check, num, table
from bench.worker import COMPARED, Job
from kitteh.imaging import JPEG_QUALITY, SIZES, fit_within

ROUNDS = 3
MIN_RUNS = 9  # in total over the rounds, after each round's warm-up run
BUDGET_S = 2.0  # extra runs for fast methods, in total over the rounds

#: Targets: the speed-ups are of medians from the same run.
SPEEDUPS = {"imagemagick": 14.0, "pillow_naive": 4.0, "pyvips": 1.0}
SPEED_INPUTS = ("phone12.jpg", "large24.jpg")
SSIM_SLACK = 0.002
RSS_OVER_BASELINE_MB = 45.0

#: The rendition every method is scored on: the 300 px one.
SSIM_KIND = "large"
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SRGB = ImageCms.createProfile("sRGB")


def run(args: argparse.Namespace) -> dict[str, Any]:
    print("resize:", file=sys.stderr)
    baseline_mb = _worker("baseline").get("maxrss_mb")
    return {"resize_inputs": args.inputs, **{n: measure_input(n, baseline_mb) for n in args.inputs}}


def _worker(mode: str, job: Job | None = None) -> dict[str, Any]:
    """Run one fresh, pinned worker process and return its JSON (or an error)."""
    return run_json("bench.worker", mode, *([json.dumps(job._asdict())] if job else []))


def measure_input(name: str, baseline_mb: float | None) -> dict[str, Any]:
    """Every method on one input, plus the flat keys ``results.json`` promises."""
    image = IMAGES_DIR / name
    ref = Reference(image.read_bytes())
    row: dict[str, Any] = {"reference_ssim_300": ref.reference_ssim()}
    with tempfile.TemporaryDirectory(prefix="kitteh-bench-") as tmp:
        row["methods"] = measure_methods(image, ref, Path(tmp))
    for method, res in row["methods"].items():
        row[f"{method}_ms"], row[f"{method}_min_ms"] = res.get("median_ms"), res.get("min_ms")
    kitteh = row["methods"]["kitteh"]
    peak = row["kitteh_peak_rss_mb"] = kitteh.get("peak_rss_mb")
    row["kitteh_impl"], row["kitteh_ssim_300"] = kitteh.get("impl"), kitteh.get("ssim_300")
    row["baseline_rss_mb"] = baseline_mb
    row["kitteh_rss_over_baseline_mb"] = peak - baseline_mb if peak and baseline_mb else None
    row["speedup_median"] = {m: _ratio(row[f"{m}_ms"], row["kitteh_ms"]) for m in COMPARED}
    row["speedup_min"] = {m: _ratio(row[f"{m}_min_ms"], row["kitteh_min_ms"]) for m in COMPARED}
    return row


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def measure_methods(
    image: Path, ref: Reference, tmp: Path, methods: tuple[str, ...] = COMPARED
) -> dict[str, dict[str, Any]]:
    """Interleaved timing rounds for each of ``methods``, then one RSS run each."""
    per_round = math.ceil(MIN_RUNS / ROUNDS), BUDGET_S / ROUNDS
    jobs = {
        m: Job(m, str(image), str(tmp / m), list(SIZES), JPEG_QUALITY, *per_round) for m in methods
    }
    runs: dict[str, dict[str, list[float]]] = {m: {"times_ms": [], "cpu_ms": []} for m in methods}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for method, job in jobs.items():
            if "error" not in last.get(method, {}):
                Path(job.outdir).mkdir(exist_ok=True)
                last[method] = _worker("time", job)
                for key, samples in runs[method].items():
                    samples += last[method].get(key, [])
    rows = {}
    for method, job in jobs.items():
        if "error" in last[method]:
            rows[method] = {"error": last[method]["error"]}
        else:
            rss = _worker("rss", job)
            rows[method] = _summarise(last[method], runs[method], rss, Path(job.outdir), ref)
        r = rows[method]
        msg = r.get("error") or f"{r['median_ms']:8.1f} ms  ssim {r['ssim_300']:.4f}"
        print(f"  {image.name:12} {method:13}{msg}", file=sys.stderr)
    return rows


def _summarise(
    timed: dict[str, Any],
    runs: dict[str, list[float]],
    rss: dict[str, Any],
    outdir: Path,
    ref: Reference,
) -> dict[str, Any]:
    """One method's row: times, RSS, and what its outputs really are (not what was claimed)."""
    nbytes, dims, formats = {}, {}, {}
    for kind in timed["claimed_dims"]:
        with Image.open(outdir / kind) as im:
            dims[kind], formats[kind] = list(im.size), im.format
        nbytes[kind] = (outdir / kind).stat().st_size
    times = runs["times_ms"]
    return {
        "impl": timed["impl"],
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "cpu_median_ms": statistics.median(runs["cpu_ms"]),
        "runs": len(times),
        "peak_rss_mb": rss.get("maxrss_mb"),
        "children_peak_rss_mb": rss.get("children_maxrss_mb"),
        "bytes": nbytes,
        "total_bytes": sum(nbytes.values()),
        "dims": dims,
        "formats": formats,
        "claimed_dims_match": all(c in (None, dims[k]) for k, c in timed["claimed_dims"].items()),
        "ssim_300": ref.score(outdir / SSIM_KIND),
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Speed-ups on the photos, then SSIM and peak RSS on every input."""
    rows = {name: results[name] for name in results["resize_inputs"]}
    checks = []
    for name in [name for name in SPEED_INPUTS if name in rows]:
        k = rows[name]["kitteh_ms"]
        for base, need in SPEEDUPS.items():
            b = rows[name][f"{base}_ms"]
            target = f"{name}: kitteh >= {need:g}x faster than {base}"
            context = f"; kitteh {num(k)} ms, {num(b and b / need)} ms allowed"
            speedup = _ratio(b, k)
            checks.append(
                check(target, speedup, need, "x", digits=2, at_least=True, context=context)
            )
    for name, row in rows.items():
        k, ref = row["kitteh_ssim_300"], row["reference_ssim_300"]
        target = f"{name}: SSIM(300) >= reference - {SSIM_SLACK}"
        context = f"; {num(k, '.4f')} vs {num(ref, '.4f')}"
        delta = None if k is None else k - ref
        checks.append(
            check(target, delta, -SSIM_SLACK, "", digits=4, at_least=True, context=context)
        )
    for name, row in rows.items():
        target = f"{name}: peak RSS <= Pillow baseline + {RSS_OVER_BASELINE_MB:g} MB"
        over = row["kitteh_rss_over_baseline_mb"]
        checks.append(check(target, over, RSS_OVER_BASELINE_MB, " MB"))
    return checks


def render(results: dict[str, Any]) -> list[str]:
    """One table per input: every method's time, RSS, bytes, dims and SSIM."""
    boxes = [str(box) for _, box in SIZES]
    lines = [
        f"## Resize ({'/'.join(reversed(boxes))}, JPEG q{JPEG_QUALITY})",
        "",
        "Every method runs warm in fresh processes pinned to one core, its runs split over "
        "interleaved rounds (kitteh, pyvips, naive, ImageMagick, kitteh, ...); medians and "
        "minimums of >= 9 runs; 'x kitteh time' = method median / kitteh median. Peak RSS "
        "is VmHWM of a fresh process that ran the method once (ru_maxrss would inherit the "
        "parent's peak across exec); for ImageMagick, of the largest `convert` child. "
        "SSIM: Wang et al. Gaussian SSIM on luminance of the 300 px output against a float "
        "Lanczos-3 resize of the full decoded, oriented, sRGB image; transparent images are "
        "compared over black, so JPEG baselines that drop alpha score low on alpha.png.",
        "",
    ]
    header = ["method", "median ms", "min ms", "x kitteh time", "peak RSS MB"]
    header += [f"bytes {'/'.join(boxes)}", "dims 300", "SSIM 300"]
    for name in results["resize_inputs"]:
        row, cells = results[name], []
        for method, r in row["methods"].items():
            if "error" in r:
                cells.append([method, f"error: {r['error'][:120]}", *[""] * 6])
                continue
            # ImageMagick works in `convert` children: theirs is the peak that counts.
            rss = max(filter(None, (r["peak_rss_mb"], r["children_peak_rss_mb"])), default=None)
            nbytes = "/".join(str(r["bytes"][kind]) for kind, _ in SIZES)
            dims = "x".join(map(str, r["dims"][SSIM_KIND]))
            times = [
                num(r["median_ms"]),
                num(r["min_ms"]),
                num(row["speedup_median"][method], ".2f"),
            ]
            cells.append([method, *times, num(rss), nbytes, dims, num(r["ssim_300"], ".4f")])
        lines += [
            f"### {name}",
            "",
            f"reference_ssim_300 (plain full-decode Pillow LANCZOS, q{JPEG_QUALITY}): "
            f"{num(row['reference_ssim_300'], '.4f')}; kitteh implementation: {row['kitteh_impl']}",
            "",
            *table(header, cells, "lrrrrllr"),
            f"kitteh peak RSS {num(row['kitteh_peak_rss_mb'])} MB = baseline "
            f"{num(row['baseline_rss_mb'])} MB + {num(row['kitteh_rss_over_baseline_mb'])} MB.",
            "",
        ]
    return lines


# Quality ---------------------------------------------------------------------


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM as Wang et al. (2004) define it, computed by scikit-image.

    11x11 Gaussian window, sigma 1.5, K=(0.01, 0.03); means over the valid region only
    (5 px border cropped), so the filter's border handling does not count.
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    wang = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
    return float(structural_similarity(a, b, data_range=255, **wang))


def luma(im: Image.Image) -> np.ndarray:
    """Float luminance of a decoded image, premultiplied (over black) if it has alpha."""
    arr = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"), dtype=np.float32)
    y = arr[..., :3] @ _LUMA
    if arr.shape[-1] == 4:
        y *= arr[..., 3] / 255.0
    return y


class Reference:
    """Float Lanczos truth for one input, at whatever size a method produced.

    Luminance is formed at full resolution before resizing: both steps are linear,
    so this equals resizing R, G and B separately, at a third of the cost.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._full = luma(_oriented_srgb(data))
        self._truth: dict[tuple[int, int], np.ndarray] = {}

    def score(self, output: Path | bytes) -> float:
        """SSIM of an encoded output (file or bytes) against the truth at its own size."""
        with Image.open(output if isinstance(output, Path) else io.BytesIO(output)) as im:
            if im.size not in self._truth:  # cached: methods mostly agree on the size
                f = Image.fromarray(self._full, mode="F").resize(im.size, Image.Resampling.LANCZOS)
                self._truth[im.size] = np.clip(np.asarray(f), 0.0, 255.0)
            return ssim(luma(im), self._truth[im.size])

    def reference_ssim(self) -> float:
        """``reference_ssim_300``: plain Pillow's score (LANCZOS to the 300 box, JPEG q85)."""
        im = _oriented_srgb(self._data)
        im = im.resize(fit_within(*im.size, dict(SIZES)[SSIM_KIND]), Image.Resampling.LANCZOS)
        if im.mode == "RGBA":  # JPEG has no alpha: flatten over black, as compared
            im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), im)
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
        return self.score(buf.getvalue())


def _oriented_srgb(data: bytes) -> Image.Image:
    """Full decode (no draft), EXIF orientation, embedded profile -> sRGB."""
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    icc = im.info.get("icc_profile")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    im = im.convert("RGBA" if has_alpha else "RGB")
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        im = ImageCms.profileToProfile(im, src, _SRGB, outputMode=im.mode) or im
    return im
