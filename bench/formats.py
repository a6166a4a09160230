"""The formats part: bytes, SSIM and encode time of AVIF and WebP beside kitteh's JPEG.

Three measurements, each in this run:

* **Shipped settings**, per input: kitteh's own pictures (``imaging.resize``) in the
  fallback (JPEG, or PNG with alpha) and in every modern encoding, as the handler
  writes them; bytes per size, SSIM of the 300 px against the float reference
  (:class:`bench.resize.Reference`), CPU time to encode the three sizes, and whether
  the format is served (only where smaller than the fallback).
* **Calibration**, on the JPEG inputs (the photos): for WebP and for AVIF at each
  libaom speed, SSIM and bytes at 300 px over a range of qualities. A format's
  calibrated quality is the lowest whose SSIM is at least the JPEG's on every photo;
  the table shows what each AVIF speed saves at its own calibrated quality and what
  it costs, which is how the shipped speed was chosen.
* **Render time** on phone12.jpg: the handler's whole render (``kitteh_formats``:
  decode, resize, every format) against the JPEG path alone (``kitteh``), timed as the
  resize part times its methods (:func:`bench.resize.measure_methods`), as a ratio of
  CPU time: both are single-threaded, so on an idle core (and on Lambda) CPU time is
  their wall time, while on a shared machine wall time also counts whoever else ran.

Each input is measured in a pinned subprocess of its own: ``python -m bench.formats NAME``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from bench.common import IMAGES_DIR, run_json
from bench.report import check, num, table
from bench.resize import SSIM_KIND, Reference, measure_methods
from kitteh import imaging
from kitteh.formats import JPEG
from kitteh.imaging import Encoding

TIME_INPUT = "phone12.jpg"
RUNS = 5
AVIF_FEWER_BYTES_PCT = 25.0
RENDER_RATIO = 3.0
AVIF_SPEEDS = (6, 7, 8, 9)
QUALITIES = {"webp": range(80, 97), "avif": range(55, 91)}
#: kitteh's own pictures, ``imaging.resize``'s (kind, image), largest first.
Pictures = list[tuple[str, Image.Image]]


def _with(encoding: Encoding, **changes: int) -> Encoding:
    """``encoding`` with some of its Pillow settings changed."""
    settings = tuple((key, changes.get(key, value)) for key, value in encoding.settings)
    return replace(encoding, settings=settings)


def _label(encoding: Encoding) -> str:
    """WebP as shipped; AVIF by speed (the shipped one marked)."""
    if encoding.extension != "avif":
        return encoding.extension
    speed = dict(encoding.settings)["speed"]
    shipped = speed == dict(imaging.AVIF.settings)["speed"]
    return f"avif speed {speed}" + (" (shipped)" if shipped else "")


#: What the handler writes: the fallback (``None``), then each modern format.
SHIPPED = {"fallback": None, **{e.extension: e for e in imaging.MODERN_ENCODINGS}}
SHIPPED_AVIF = _label(imaging.AVIF)
#: Every encoder calibrated: WebP as shipped, AVIF at each speed tried.
CALIBRATED = {
    _label(e): e for e in (imaging.WEBP, *(_with(imaging.AVIF, speed=s) for s in AVIF_SPEEDS))
}


def _median_cpu_ms(fn: Callable[[], object]) -> float:
    """Median CPU time of ``fn`` (the encoders run on one thread)."""
    times = []
    for _ in range(RUNS):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def measure(name: str) -> dict[str, Any]:
    """Everything about one input (run in a pinned worker)."""
    data = (IMAGES_DIR / name).read_bytes()
    ref = Reference(data)
    pictures = imaging.resize(data)
    renditions = imaging.render_variants(data)
    served = {r.kind: {a.content_type for a in r.alternatives} for r in renditions}
    row: dict[str, Any] = {"fallback": renditions[0].content_type, "formats": {}}
    for label, encoding in SHIPPED.items():
        outputs = _encode_all(pictures, encoding)
        row["formats"][label] = {
            "bytes": {kind: len(out) for kind, out in outputs.items()},
            "ssim_300": ref.score(outputs[SSIM_KIND]),
            "encode_ms": _median_cpu_ms(partial(_encode_all, pictures, encoding)),
            "served": {k: encoding is None or encoding.content_type in served[k] for k in outputs},
        }
    if row["fallback"] == JPEG.content_type:
        row["calibration"] = {
            label: _calibrate_on(pictures, ref, encoding, row["formats"]["fallback"]["ssim_300"])
            for label, encoding in CALIBRATED.items()
        }
    return row


def _encode_all(pictures: Pictures, encoding: Encoding | None) -> dict[str, bytes]:
    """Every size in ``encoding``, or (``None``) in the fallback, JPEG or PNG."""
    if encoding is None:
        return {kind: imaging.encode_fallback(p).data for kind, p in pictures}
    return {kind: imaging.encode(p, encoding) for kind, p in pictures}


def _calibrate_on(
    pictures: Pictures, ref: Reference, encoding: Encoding, jpeg_ssim: float
) -> dict[str, Any]:
    """One encoder on one photo: the 300 px's bytes at each quality (for the parent, which
    drops them), the lowest quality that reaches the JPEG's SSIM, and the encode time."""
    large = dict(pictures)[SSIM_KIND]
    nbytes, needed = {}, None
    for quality in QUALITIES[encoding.extension]:
        out = imaging.encode(large, _with(encoding, quality=quality))
        nbytes[str(quality)] = len(out)
        if needed is None and ref.score(out) >= jpeg_ssim:
            needed = quality
    return {
        "bytes_at_quality": nbytes,
        "needed": needed,
        "encode_ms_3_sizes": _median_cpu_ms(partial(_encode_all, pictures, encoding)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The ``formats`` entry of ``results.json``."""
    print("formats:", file=sys.stderr)
    rows = {}
    for name in args.inputs:
        rows[name] = row = run_json("bench.formats", name, timeout=900)
        summary = row.get("error") or "  ".join(
            f"{label} {f['bytes'][SSIM_KIND]} B ssim {f['ssim_300']:.4f} {f['encode_ms']:.0f} ms"
            for label, f in row["formats"].items()
        )
        print(f"  {name:12} {summary}", file=sys.stderr)
    calibration = _calibrate({n: r for n, r in rows.items() if "calibration" in r})
    render = _render_times() if TIME_INPUT in args.inputs else {"error": f"{TIME_INPUT} not run"}
    if "ratio" in render:
        print(f"  {TIME_INPUT} every format / JPEG only: {render['ratio']:.2f}x", file=sys.stderr)
    shipped = {e.extension: e.describe() for e in imaging.MODERN_ENCODINGS}
    part = {"inputs": rows, "shipped": shipped, "calibration": calibration, "render": render}
    return {"formats": part}


def _calibrate(photos: dict[str, Any]) -> dict[str, Any]:
    """Per encoder: the quality that matches the JPEG on every photo, and what it gives.
    Drops the photos' bytes per quality, which this sums up."""
    out: dict[str, Any] = {}
    for label in CALIBRATED if photos else ():
        per_photo = {name: row["calibration"][label] for name, row in photos.items()}
        needed = {name: c["needed"] for name, c in per_photo.items()}
        quality = None if None in needed.values() else max(needed.values())
        ratios = {}
        for name, c in per_photo.items():
            nbytes, jpeg = c.pop("bytes_at_quality"), photos[name]["formats"]["fallback"]
            if quality is not None:
                ratios[name] = nbytes[str(quality)] / jpeg["bytes"][SSIM_KIND]
        timed = per_photo.get(TIME_INPUT, {})
        out[label] = {
            "needed": needed,
            "quality": quality,
            "bytes_ratio": ratios,
            "encode_ms_3_sizes": timed.get("encode_ms_3_sizes"),
        }
    return out


def _render_times() -> dict[str, Any]:
    """The handler's render with every format against the JPEG path, interleaved."""
    image = IMAGES_DIR / TIME_INPUT
    with tempfile.TemporaryDirectory(prefix="kitteh-formats-") as tmp:
        rows = measure_methods(
            image, Reference(image.read_bytes()), Path(tmp), ("kitteh", "kitteh_formats")
        )
    jpeg, every = rows["kitteh"], rows["kitteh_formats"]
    if "error" in jpeg or "error" in every:
        return {"error": jpeg.get("error") or every["error"]}
    return {
        "jpeg_ms": jpeg["cpu_median_ms"],
        "all_formats_ms": every["cpu_median_ms"],
        "ratio": every["cpu_median_ms"] / jpeg["cpu_median_ms"],
        "wall_ratio": every["median_ms"] / jpeg["median_ms"],
        "runs": min(jpeg["runs"], every["runs"]),
        "jpeg_peak_rss_mb": jpeg["peak_rss_mb"],
        "all_formats_peak_rss_mb": every["peak_rss_mb"],
    }


# Targets -------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """AVIF's saving on each photo, every format's SSIM, nothing served larger, the render
    time, and each shipped quality against its calibration."""
    part = results["formats"]
    rows = {n: r for n, r in part["inputs"].items() if "error" not in r}
    photos = {n: r for n, r in rows.items() if r["fallback"] == JPEG.content_type}
    checks = []
    for name, row in photos.items():
        jpeg, avif = (row["formats"][f]["bytes"][SSIM_KIND] for f in ("fallback", "avif"))
        fewer = 100 * (1 - avif / jpeg)
        why = "" if fewer >= AVIF_FEWER_BYTES_PCT else _why_avif_misses(part, name)
        target = f"{name}: AVIF >= {AVIF_FEWER_BYTES_PCT:g}% fewer bytes than JPEG (300 px)"
        context = f"; {avif} vs {jpeg} B{why}"
        checks.append(
            check(target, fewer, AVIF_FEWER_BYTES_PCT, "%", at_least=True, context=context)
        )

    deltas = {
        f"{name} {label}": fmt["ssim_300"] - row["formats"]["fallback"]["ssim_300"]
        for name, row in photos.items()
        for label, fmt in row["formats"].items()
        if label != "fallback"
    }
    lowest = min(deltas, key=deltas.__getitem__, default=None)
    context = f"; lowest: {lowest}" if lowest else ""
    value = deltas[lowest] if lowest else None
    target = "every modern format: SSIM(300) >= the JPEG's on every photo"
    checks.append(check(target, value, 0.0, "", digits=4, at_least=True, context=context))

    served: list[tuple[float, str]] = []
    dropped: list[tuple[float, str]] = []
    for name, row in rows.items():
        fallback = row["formats"]["fallback"]["bytes"]
        for label, fmt in row["formats"].items():
            for kind, is_served in fmt["served"].items():
                variant = (fmt["bytes"][kind] / fallback[kind], f"{name} {label} {kind}")
                if label != "fallback":
                    (served if is_served else dropped).append(variant)
    worst = max(served, default=None)
    context = f"; largest: {worst[1] if worst else '–'}; not served, being larger: "
    context += ", ".join(variant for _, variant in dropped) or "none"
    target = "no served modern variant larger than its fallback (bytes x fallback)"
    value = worst[0] if worst else None
    checks.append(check(target, value, 1.0, "x", digits=3, context=context))

    render = part["render"]
    ratio = render.get("ratio")
    target = f"{TIME_INPUT}: every format <= {RENDER_RATIO:g}x the JPEG-only render time"
    context = ""
    if ratio is not None:
        context = f"; CPU {render['all_formats_ms']:.0f} vs {render['jpeg_ms']:.0f} ms, "
        context += f"wall {render['wall_ratio']:.2f}x"
        context += _why_render_misses(part) if ratio > RENDER_RATIO else ""
    missing = render.get("error", "not measured")
    checks.append(
        check(target, ratio, RENDER_RATIO, "x", digits=2, context=context, missing=missing)
    )

    for encoding in imaging.MODERN_ENCODINGS:
        shipped = dict(encoding.settings)["quality"]
        calibrated = part["calibration"].get(_label(encoding), {}).get("quality")
        target = (
            f"{encoding.extension}: quality {shipped} is the calibrated one "
            "(lowest with SSIM >= JPEG on every photo)"
        )
        off = None if calibrated is None else abs(calibrated - shipped)
        context = f"; calibrated {calibrated}, shipped {shipped}"
        checks.append(check(target, off, 0, "", digits=0, context=context))
    return checks


def _why_avif_misses(part: dict[str, Any], name: str) -> str:
    needed = part["calibration"].get(SHIPPED_AVIF, {}).get("needed", {})
    if needed.get(name) is None or None in needed.values():
        return ""
    return (
        f". Why: one quality serves every photo; {name} reaches the JPEG's SSIM at "
        f"quality {needed[name]}, the noisiest photo needs {max(needed.values())}"
    )


def _why_render_misses(part: dict[str, Any]) -> str:
    calibration = part["calibration"]
    speeds = [
        f"{label.split(' (')[0]} {ms:.0f} ms, {1 - max(r.values()):.0%}-{1 - min(r.values()):.0%}"
        for label, c in calibration.items()
        if label.startswith("avif") and (ms := c["encode_ms_3_sizes"]) and (r := c["bytes_ratio"])
    ]
    shipped_ms = calibration.get(SHIPPED_AVIF, {}).get("encode_ms_3_sizes")
    return (
        f". Why: libaom's AVIF encoder alone takes {num(shipped_ms, '.0f')} ms for the three "
        f"sizes; AVIF speed, encode ms and bytes saved on the photos at the calibrated "
        f"quality: {'; '.join(speeds)}. Only speed 6 meets the AVIF target: bytes, sent on "
        "every view, were put before encode time, paid once per upload"
    )


# Report --------------------------------------------------------------------


def render(results: dict[str, Any]) -> list[str]:
    """The "Formats" section: the shipped settings per input, the calibration, the render time."""
    part = results["formats"]
    lines = [
        "## Formats (AVIF, WebP beside the JPEG)",
        "",
        "Shipped: " + "; ".join(f"`{d}`" for d in part["shipped"].values()) + ". Each size of "
        "kitteh's own pictures in each format; SSIM of the 300 px as above; encode ms = CPU "
        f"time of the three sizes, median of {RUNS}, one pinned core; a modern format is "
        "served only where smaller than the fallback.",
        "",
    ]
    boxes = "/".join(str(box) for _, box in imaging.SIZES)
    header = ["input", "format", f"bytes {boxes}", "x fallback (300)", "SSIM 300", "encode ms"]
    cells = []
    for name, row in part["inputs"].items():
        if "error" in row:
            cells.append([name, f"error: {row['error'][:120]}", *[""] * 5])
            continue
        base = row["formats"]["fallback"]["bytes"][SSIM_KIND]
        for label, fmt in row["formats"].items():
            shown = row["fallback"].split("/")[1] + " (fallback)" if label == "fallback" else label
            cells.append(
                [
                    name,
                    shown,
                    "/".join(str(b) for b in fmt["bytes"].values()),
                    f"{fmt['bytes'][SSIM_KIND] / base:.2f}",
                    f"{fmt['ssim_300']:.4f}",
                    f"{fmt['encode_ms']:.1f}",
                    "/".join("yes" if fmt["served"][k] else "no" for k in fmt["bytes"]),
                ]
            )
    lines += table([*header, "served"], cells, "lllrrrl")

    calibration = part["calibration"]
    if calibration:
        photos = ", ".join(next(iter(calibration.values()))["needed"])
        lines += [
            "Calibration: the lowest quality whose 300 px SSIM is >= the JPEG's, per photo; "
            "the encoder's quality is the largest of these. Bytes at that quality vs the JPEG, "
            f"and the three sizes' encode ms on {TIME_INPUT}:",
            "",
            *table(
                [
                    "encoder",
                    f"quality needed ({photos})",
                    "calibrated",
                    "bytes x JPEG",
                    "encode ms",
                ],
                (
                    [
                        label,
                        ", ".join(str(q) for q in c["needed"].values()),
                        c["quality"],
                        ", ".join(f"{r:.2f}" for r in c["bytes_ratio"].values()),
                        num(c["encode_ms_3_sizes"], ".0f"),
                    ]
                    for label, c in calibration.items()
                ),
                "llrlr",
            ),
        ]

    r = part["render"]
    if "ratio" in r:
        lines += [
            f"Render time on {TIME_INPUT} (decode, resize, encode; CPU time of interleaved "
            f"pinned workers, >= {r['runs']} runs each): JPEG only {r['jpeg_ms']:.1f} ms, every "
            f"format {r['all_formats_ms']:.1f} ms = {r['ratio']:.2f}x (wall time: "
            f"{r['wall_ratio']:.2f}x). Peak RSS: JPEG only {num(r['jpeg_peak_rss_mb'])} MB, "
            f"every format {num(r['all_formats_peak_rss_mb'])} MB.",
            "",
        ]
    return lines


if __name__ == "__main__":
    sys.stdout.write(json.dumps(measure(sys.argv[1])) + "\n")
