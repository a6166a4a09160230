"""Render ``results.json`` as the human-readable ``RESULTS.md``."""

from __future__ import annotations

from typing import Any

from bench import formats, report_stack
from bench.common import METHOD_ORDER, SIZES
from bench.targets import HANDLER_IMPORT_MS


def _f(x: float | None, fmt: str = ".1f") -> str:
    return "–" if x is None else format(x, fmt)


def _machine(m: dict[str, Any]) -> list[str]:
    load = (
        f"1-min load average at start {m['loadavg_1m']:.2f}, at end {m.get('loadavg_end', 0):.2f}"
    )
    return [
        "## Machine",
        "",
        (
            f"- CPU: {m['cpu_model']}, {m['cores']} cores; workers pinned to CPU {m['pinned_cpu']} "
            f"({load}; bench took {m.get('bench_seconds', 0):.0f} s)"
        ),
        (
            f"- Python {m['python']}, Pillow {m['pillow']}, libjpeg-turbo {m['libjpeg_turbo']}, "
            f"zlib {m['zlib']}, libwebp {m['libwebp']}"
        ),
        f"- pyvips {m.get('pyvips')}, libvips {m.get('libvips')}",
        f"- ImageMagick: {m.get('imagemagick') or 'not installed'}",
        "",
    ]


def _input_table(name: str, row: dict[str, Any]) -> list[str]:
    kinds = "/".join(str(box) for _, box in SIZES)
    lines = [
        f"### {name}",
        "",
        (
            f"reference_ssim_300 (plain full-decode Pillow LANCZOS, q85): "
            f"{_f(row['reference_ssim_300'], '.4f')}; kitteh implementation: {row['kitteh_impl']}"
        ),
        "",
        (
            f"| method | median ms | min ms | x kitteh time | peak RSS MB | bytes {kinds} "
            "| dims 300 | SSIM 300 |"
        ),
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for method in METHOD_ORDER:
        r = row["methods"].get(method, {})
        if "error" in r:
            lines.append(f"| {method} | error: {r['error'][:120]} | | | | | | |")
            continue
        rss = r.get("peak_rss_mb")
        if r.get("children_peak_rss_mb"):
            rss = max(rss or 0, r["children_peak_rss_mb"])  # convert's own RSS
        nbytes = "/".join(str(r["bytes"].get(kind, "–")) for kind, _ in SIZES)
        dims = "x".join(map(str, r["dims"].get("large", [])))
        lines.append(
            f"| {method} | {_f(r['median_ms'])} | {_f(r['min_ms'])} | "
            f"{_f(row['speedup_median'].get(method), '.2f')} | {_f(rss)} | {nbytes} | {dims} | "
            f"{_f(r['ssim_300'], '.4f')} |"
        )
    lines += [
        "",
        (
            f"kitteh peak RSS {_f(row['kitteh_peak_rss_mb'])} MB = baseline "
            f"{_f(row['baseline_rss_mb'])} MB + {_f(row['kitteh_rss_over_baseline_mb'])} MB."
        ),
        "",
    ]
    return lines


def _cold(cold: dict[str, Any]) -> list[str]:
    lines = [
        "## Cold start",
        "",
        "| module | median ms | min ms | slowest imports (one -X importtime run, cumulative ms) |",
        "| --- | ---: | ---: | --- |",
    ]
    for mod, r in cold["imports"].items():
        if r.get("median_ms") is None:
            lines.append(f"| {mod} | – | – | {r.get('error', '')[:150]} |")
            continue
        slow = ", ".join(
            f"{s['module']} {s['cumulative_ms']:.0f}" for s in r["slowest_imports"][:5]
        )
        lines.append(f"| {mod} | {r['median_ms']:.0f} | {r['min_ms']:.0f} | {slow} |")
    pkg = cold["package"]
    size = f"{pkg['mb']:.1f} MB" if pkg.get("mb") is not None else f"null ({pkg['note']})"
    lines += ["", f"Package `{pkg['path']}`: {size}", ""]
    system = {m: r for m, r in cold.get("imports_system_interpreter", {}).items() if r}
    if system:
        lines += [
            (
                "The project's interpreter (above) is a plain build, configured without "
                "`--enable-optimizations` (pyenv's default). The same imports, same packages, "
                "under the distribution's CPython 3.11:"
            ),
            "",
            "| module | interpreter | median ms | min ms |",
            "| --- | --- | ---: | ---: |",
        ]
        for mod, r in system.items():
            lines.append(
                f"| {mod} | `{r['interpreter']}` | {_f(r.get('median_ms'), '.0f')} | "
                f"{_f(r.get('min_ms'), '.0f')} |"
            )
        lines.append("")
    lines += _import_miss_note(cold)
    return lines


def _import_miss_note(cold: dict[str, Any]) -> list[str]:
    """Why the resize handler's import misses its target, and what would close it."""
    resize = cold["imports"].get("handlers.resize", {})
    median = resize.get("median_ms")
    if median is None or median <= HANDLER_IMPORT_MS:
        return []
    by_name = {s["module"]: s["cumulative_ms"] for s in resize.get("slowest_imports", [])}
    system = (cold.get("imports_system_interpreter") or {}).get("handlers.resize") or {}
    parts = ", ".join(
        f"{name} {by_name[name]:.0f} ms" for name in ("sqlalchemy", "boto3") if name in by_name
    )
    note = (
        f"**Why `handlers.resize` misses {HANDLER_IMPORT_MS:g} ms** "
        f"({median:.0f} ms, {median - HANDLER_IMPORT_MS:.0f} ms over): nearly all of it is "
        f"the libraries the function needs, not Kitteh ({parts}; Pillow and Kitteh's own "
        "modules are ~20 ms)."
    )
    if system.get("median_ms") is not None:
        note += (
            f" Part of it is the interpreter build: under the distribution's CPython 3.11 "
            f"the same import takes {system['median_ms']:.0f} ms."
        )
    note += (
        " What would close it: Lambda SnapStart for Python (init runs once, at publish "
        "time); or SQLAlchemy Core instead of the ORM on the handler's path (the ORM is "
        "~45 ms); importing either lazily would only move the cost into the first event."
    )
    return [note, ""]


def render(results: dict[str, Any], resize_inputs: list[str]) -> str:
    """The whole RESULTS.md."""
    lines = [
        "# Kitteh benchmark results",
        "",
        (
            "Generated by `make bench` (bench/run.sh); raw numbers in `bench/results.json`. "
            "Every method runs warm in fresh processes pinned to one core, its runs split over "
            "interleaved rounds (kitteh, pyvips, naive, ImageMagick, kitteh, ...); medians and "
            "minimums of >= 9 runs; 'x kitteh time' = method median / kitteh median. Peak RSS "
            "is VmHWM of a fresh process that ran the method once (ru_maxrss would inherit the "
            "parent's peak across exec); for ImageMagick, of the largest `convert` child. "
            "SSIM: Wang et al. Gaussian SSIM on luminance of the 300 px output against a float "
            "Lanczos-3 resize of the full decoded, oriented, sRGB image; transparent images are "
            "compared over black, so JPEG baselines that drop alpha score low on alpha.png."
        ),
        "",
        *_machine(results["machine"]),
        "## Targets",
        "",
        "| target | status | detail |",
        "| --- | --- | --- |",
        *(f"| {t['target']} | **{t['status']}** | {t['detail']} |" for t in results["targets"]),
        "",
        "## Resize (90/300/600, JPEG q85)",
        "",
    ]
    for name in resize_inputs:
        lines += _input_table(name, results[name])
    lines += formats.render(results["formats"])
    lines += _cold(results["coldstart"])
    lines += report_stack.render(results["stack"])
    return "\n".join(lines)
