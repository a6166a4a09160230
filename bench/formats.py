"""Modern formats: bytes, SSIM and encode time of AVIF and WebP beside kitteh's JPEG.

Three measurements, each in this run:

* **Shipped settings**, per input: kitteh's own pictures (``imaging.resize``) in the
  fallback (JPEG, or PNG with alpha) and in every modern encoding, as the handler
  writes them; bytes per size, SSIM of the 300 px against the float reference
  (``bench.quality``), encode time of the three sizes, and whether the format is
  served (only where smaller than the fallback).
* **Calibration**, on the JPEG inputs (the photos): for WebP and for AVIF at each
  libaom speed, SSIM and bytes at 300 px over a range of qualities. A format's
  calibrated quality is the lowest whose SSIM is at least the JPEG's on every photo;
  the table shows what each AVIF speed saves at its own calibrated quality and what
  it costs, which is how the shipped speed was chosen.
* **Render time** on phone12.jpg: the handler's whole render (decode, resize, every
  format) against the JPEG path alone, in pinned worker processes, interleaved
  (``bench.resize``), as a ratio.

Each input is measured in a pinned subprocess of its own: ``python -m bench.formats NAME``.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any

from bench.common import IMAGES_DIR, ROOT, SSIM_KIND, pinned, worker_env

TIME_INPUT = "phone12.jpg"
ROUNDS = 3
RUNS = 5
AVIF_FEWER_BYTES = 0.25
RENDER_RATIO = 3.0
AVIF_SPEEDS = (6, 7, 8, 9)
QUALITIES = {"webp": range(80, 97), "avif": range(55, 91)}


def _with(encoding: Any, **changes: int) -> Any:
    """``encoding`` with some of its Pillow settings changed."""
    settings = tuple((key, changes.get(key, value)) for key, value in encoding.settings)
    return replace(encoding, settings=settings)


def _label(encoding: Any) -> str:
    """WebP as shipped; AVIF by speed (the shipped one marked)."""
    from kitteh import imaging

    if encoding.extension != "avif":
        return str(encoding.extension)
    speed = dict(encoding.settings)["speed"]
    shipped = speed == dict(imaging.AVIF.settings)["speed"]
    return f"avif speed {speed}" + (" (shipped)" if shipped else "")


def _encodings() -> dict[str, Any]:
    """Every encoder calibrated: WebP as shipped, AVIF at each speed tried."""
    from kitteh import imaging

    tried = [imaging.WEBP, *(_with(imaging.AVIF, speed=speed) for speed in AVIF_SPEEDS)]
    return {_label(encoding): encoding for encoding in tried}


def _median_ms(fn: Any) -> float:
    """Median CPU time of ``fn``: the encoders run on one thread (see _render_times)."""
    times = []
    for _ in range(RUNS):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def measure(name: str) -> dict[str, Any]:
    """Everything about one input (run in a pinned worker)."""
    from PIL import Image

    from bench.quality import Reference, luma, ssim
    from kitteh import imaging

    data = (IMAGES_DIR / name).read_bytes()
    reference = Reference(data)
    pictures = imaging.resize(data)
    large = dict(pictures)[SSIM_KIND]

    def score(encoded: bytes) -> float:
        with Image.open(io.BytesIO(encoded)) as im:
            im.load()
            return ssim(luma(im), reference.at(im.size))

    renditions = imaging.render_variants(data)
    fallback = {r.kind: r for r in renditions}
    row: dict[str, Any] = {"fallback": renditions[0].content_type, "formats": {}}
    shipped = [("fallback", None), *((e.extension, e) for e in imaging.MODERN_ENCODINGS)]
    for label, encode in shipped:

        def encode_all(encoding: Any = encode) -> list[bytes]:
            if encoding is None:
                return [imaging.encode_fallback(picture).data for _, picture in pictures]
            return [imaging.encode(picture, encoding) for _, picture in pictures]

        outputs = dict(zip((kind for kind, _ in pictures), encode_all(), strict=True))
        served = {
            kind: encode is None
            or any(a.content_type == encode.content_type for a in fallback[kind].alternatives)
            for kind in outputs
        }
        row["formats"][label] = {
            "bytes": {kind: len(out) for kind, out in outputs.items()},
            "ssim_300": score(outputs[SSIM_KIND]),
            "encode_ms": _median_ms(encode_all),
            "served": served,
        }
    if row["fallback"] == "image/jpeg":
        jpeg = row["formats"]["fallback"]
        row["calibration"] = {}
        for label, encoding in _encodings().items():
            family = encoding.extension
            table = {}
            for quality in QUALITIES[family]:
                out = imaging.encode(large, _with(encoding, quality=quality))
                table[quality] = (len(out), score(out))
            row["calibration"][label] = {
                "table": table,
                "needed": next((q for q, (_, s) in table.items() if s >= jpeg["ssim_300"]), None),
                "encode_ms_3_sizes": _median_ms(
                    lambda e=encoding: [imaging.encode(p, e) for _, p in pictures]
                ),
            }
    return row


def _in_worker(name: str) -> dict[str, Any]:
    proc = subprocess.run(
        pinned([sys.executable, "-m", "bench.formats", name]),
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": " | ".join(proc.stderr.strip().splitlines()[-3:])}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _render_times() -> dict[str, Any]:
    """The handler's render with every format against the JPEG path, interleaved.

    The ratio is of CPU time: both renders are single-threaded, so on an idle core
    (and on Lambda) CPU time is their wall time, while on a shared machine wall time
    also counts whoever else ran; the wall-time ratio is reported beside it.
    """
    from bench.resize import _worker

    methods = ("kitteh", "kitteh_formats")
    wall: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory(prefix="kitteh-formats-") as tmp:
        for _ in range(ROUNDS):
            for method in methods:
                res = _worker(
                    "time", method, str(IMAGES_DIR / TIME_INPUT), tmp,
                    "--warmup", "1", "--min-runs", "3", "--max-runs", "5", "--budget", "0.5",
                )  # fmt: skip
                if "error" in res:
                    return {"error": res["error"]}
                wall[method] += res["times_ms"]
                cpu[method] += res["cpu_ms"]
    jpeg, every = (statistics.median(cpu[m]) for m in methods)
    wall_jpeg, wall_every = (statistics.median(wall[m]) for m in methods)
    return {
        "jpeg_ms": jpeg,
        "all_formats_ms": every,
        "ratio": every / jpeg,
        "wall_ratio": wall_every / wall_jpeg,
        "runs": min(len(cpu[m]) for m in methods),
    }


def _calibrate(rows: dict[str, Any]) -> dict[str, Any]:
    """Per encoder: the quality that matches the JPEG on every photo, and what it gives."""
    photos = {name: row for name, row in rows.items() if "calibration" in row}
    out: dict[str, Any] = {}
    for label in next(iter(photos.values()))["calibration"] if photos else []:
        needed = {name: row["calibration"][label]["needed"] for name, row in photos.items()}
        quality = None if None in needed.values() else max(needed.values())
        ratios = {}
        for name, row in photos.items():
            table, jpeg = row["calibration"][label]["table"], row["formats"]["fallback"]
            if quality is not None:
                ratios[name] = table[str(quality)][0] / jpeg["bytes"][SSIM_KIND]
        out[label] = {
            "needed": needed,
            "quality": quality,
            "bytes_ratio": ratios,
            "encode_ms_3_sizes": rows.get(TIME_INPUT, {})
            .get("calibration", {})
            .get(label, {})
            .get("encode_ms_3_sizes"),
        }
    return out


def run(inputs: tuple[str, ...]) -> dict[str, Any]:
    """The ``formats`` part of ``results.json``."""
    from kitteh import imaging

    rows = {}
    for name in inputs:
        rows[name] = row = _in_worker(name)
        if "error" in row:
            print(f"  {name:12} formats: error {row['error']}", file=sys.stderr)
            continue
        summary = "  ".join(
            f"{label} {f['bytes'][SSIM_KIND]} B ssim {f['ssim_300']:.4f} {f['encode_ms']:.0f} ms"
            for label, f in row["formats"].items()
        )
        print(f"  {name:12} {summary}", file=sys.stderr)
    calibration = _calibrate({n: r for n, r in rows.items() if "error" not in r})
    for row in rows.values():  # the quality sweeps are summed up in calibration
        for encoder in row.get("calibration", {}).values():
            del encoder["table"]
    result: dict[str, Any] = {
        "inputs": rows,
        "shipped": {e.extension: e.describe() for e in imaging.MODERN_ENCODINGS},
        "calibration": calibration,
        "render": _render_times() if TIME_INPUT in inputs else {"error": f"{TIME_INPUT} not run"},
    }
    render = result["render"]
    if "ratio" in render:
        print(f"  {TIME_INPUT} every format / JPEG only: {render['ratio']:.2f}x", file=sys.stderr)
    return result


# Targets -------------------------------------------------------------------


def _check(name: str, value: float | None, ok: bool | None, detail: str) -> dict[str, Any]:
    status = "N/A" if ok is None else ("PASS" if ok else "MISS")
    return {"target": name, "value": value, "status": status, "detail": detail}


def evaluate(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The formats' targets, PASS/MISS with the margin."""
    from kitteh import imaging

    checks = []
    rows = {n: r for n, r in result["inputs"].items() if "error" not in r}
    for name, row in rows.items():
        if row["fallback"] != "image/jpeg":
            continue
        jpeg, avif = row["formats"]["fallback"], row["formats"]["avif"]
        ratio = avif["bytes"][SSIM_KIND] / jpeg["bytes"][SSIM_KIND]
        delta = avif["ssim_300"] - jpeg["ssim_300"]
        ok = ratio <= 1 - AVIF_FEWER_BYTES and delta >= 0
        detail = f"{1 - ratio:.0%} fewer bytes, SSIM {delta:+.4f}"
        if ratio > 1 - AVIF_FEWER_BYTES:
            detail += f"; {(ratio - 1 + AVIF_FEWER_BYTES) * 100:.1f} points short"
        if not ok:
            detail += _why_avif_misses(result, name)
        target = f"{name}: AVIF >= 25% fewer bytes than JPEG at >= its SSIM (300 px)"
        checks.append(_check(target, ratio, ok, detail))
    larger = [
        f"{name} {label} {kind}"
        for name, row in rows.items()
        for label, fmt in row["formats"].items()
        for kind, served in fmt["served"].items()
        if label != "fallback"
        and served
        and fmt["bytes"][kind] >= row["formats"]["fallback"]["bytes"][kind]
    ]
    dropped = [
        f"{name} {label} {kind}"
        for name, row in rows.items()
        for label, fmt in row["formats"].items()
        for kind, served in fmt["served"].items()
        if not served
    ]
    checks.append(
        _check(
            "no served modern variant larger than its fallback",
            len(larger),
            not larger,
            (", ".join(larger) or "none")
            + f"; {len(dropped)} larger ones not served: {', '.join(dropped) or 'none'}",
        )
    )
    render = result["render"]
    name = f"{TIME_INPUT}: every format <= {RENDER_RATIO:g}x the JPEG-only render time"
    if "ratio" not in render:
        checks.append(_check(name, None, None, render.get("error", "not measured")))
    else:
        ratio = render["ratio"]
        detail = (
            f"{ratio:.2f}x ({render['all_formats_ms']:.0f} vs {render['jpeg_ms']:.0f} ms; "
            f"{RENDER_RATIO - ratio:+.2f}x to spare)"
        )
        if ratio > RENDER_RATIO:
            detail += _why_render_misses(result)
        checks.append(_check(name, ratio, ratio <= RENDER_RATIO, detail))
    for encoding in imaging.MODERN_ENCODINGS:
        shipped = dict(encoding.settings)["quality"]
        calibrated = result["calibration"].get(_label(encoding), {}).get("quality")
        checks.append(
            _check(
                f"{encoding.extension}: quality {shipped} is the calibrated one "
                "(lowest with SSIM >= JPEG on every photo)",
                calibrated,
                None if calibrated is None else calibrated == shipped,
                f"calibrated {calibrated}, shipped {shipped}",
            )
        )
    return checks


def _why_avif_misses(result: dict[str, Any], name: str) -> str:
    needed = result["calibration"].get(_shipped_avif(result), {}).get("needed", {})
    own = needed.get(name)
    if own is None:
        return ""
    return (
        f". Why: one quality serves every photo; {name} reaches the JPEG's SSIM at "
        f"quality {own}, the noisiest photo needs {max(needed.values())}"
    )


def _why_render_misses(result: dict[str, Any]) -> str:
    calibration = result["calibration"]
    shipped = calibration.get(_shipped_avif(result), {})
    faster = [
        f"{label.split(' (')[0]} {ms:.0f} ms, {1 - max(r.values()):.0%}-{1 - min(r.values()):.0%}"
        for label, c in calibration.items()
        if label.startswith("avif")
        and (ms := c.get("encode_ms_3_sizes"))
        and (r := c["bytes_ratio"])
    ]
    return (
        f". Why: libaom's AVIF encoder alone takes {shipped.get('encode_ms_3_sizes') or 0:.0f} ms "
        f"for the three sizes; AVIF speed, encode ms and bytes saved on the photos at the "
        f"calibrated quality: {'; '.join(faster)}. Only speed 6 meets the AVIF target: bytes, "
        "sent on every view, were put before encode time, paid once per upload"
    )


def _shipped_avif(result: dict[str, Any]) -> str:
    from kitteh import imaging

    return _label(imaging.AVIF)


# Report --------------------------------------------------------------------


def render(result: dict[str, Any]) -> list[str]:
    """The "Formats" section of RESULTS.md."""
    lines = [
        "## Formats (AVIF, WebP beside the JPEG)",
        "",
        "Shipped: " + "; ".join(f"`{d}`" for d in result["shipped"].values()) + ". Each size of "
        "kitteh's own pictures in each format; SSIM of the 300 px as above; encode ms = CPU "
        "time of the three sizes, median of 5, one pinned core; a modern format is served only "
        "where smaller than the fallback.",
        "",
        "| input | format | bytes 600/300/90 | x fallback (300) | SSIM 300 | encode ms | served |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name, row in result["inputs"].items():
        if "error" in row:
            lines.append(f"| {name} | error: {row['error'][:120]} | | | | | |")
            continue
        base = row["formats"]["fallback"]["bytes"][SSIM_KIND]
        for label, fmt in row["formats"].items():
            shown = row["fallback"].split("/")[1] + " (fallback)" if label == "fallback" else label
            served = "/".join("yes" if fmt["served"][k] else "no" for k in fmt["bytes"])
            lines.append(
                f"| {name} | {shown} | {'/'.join(str(b) for b in fmt['bytes'].values())} | "
                f"{fmt['bytes'][SSIM_KIND] / base:.2f} | {fmt['ssim_300']:.4f} | "
                f"{fmt['encode_ms']:.1f} | {served} |"
            )
    calibration = result["calibration"]
    if calibration:
        photos = list(next(iter(calibration.values()))["needed"])
        lines += [
            "",
            "Calibration: the lowest quality whose 300 px SSIM is >= the JPEG's, per photo; "
            "the encoder's quality is the largest of these. Bytes at that quality vs the JPEG, "
            f"and the three sizes' encode ms on {TIME_INPUT}:",
            "",
            f"| encoder | quality needed ({', '.join(photos)}) | calibrated | bytes x JPEG | "
            "encode ms |",
            "| --- | --- | ---: | --- | ---: |",
        ]
        for label, c in calibration.items():
            needed = ", ".join(str(q) for q in c["needed"].values())
            ratios = ", ".join(f"{r:.2f}" for r in c["bytes_ratio"].values())
            ms = c.get("encode_ms_3_sizes")
            lines.append(
                f"| {label} | {needed} | {c['quality']} | {ratios} | "
                f"{'–' if ms is None else f'{ms:.0f}'} |"
            )
    render_times = result["render"]
    if "ratio" in render_times:
        lines += [
            "",
            f"Render time on {TIME_INPUT} (decode, resize, encode; CPU time of interleaved "
            f"pinned workers, >= {render_times['runs']} runs each): JPEG only "
            f"{render_times['jpeg_ms']:.1f} ms, every format {render_times['all_formats_ms']:.1f}"
            f" ms = {render_times['ratio']:.2f}x (wall time: {render_times['wall_ratio']:.2f}x).",
        ]
    return [*lines, ""]


if __name__ == "__main__":
    sys.stdout.write(json.dumps(measure(sys.argv[1])) + "\n")
