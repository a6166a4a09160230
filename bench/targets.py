"""The targets kitteh is held to, checked against one run's results.

Speed targets are ratios of medians from the same run (never milliseconds), so a
busy or slower machine moves both sides alike. Each check says by how much it
passed or missed, in the unit a fix would be planned in.
"""

from __future__ import annotations

from typing import Any

SPEED_INPUTS = ("phone12.jpg", "large24.jpg")
#: baseline method -> minimum speed-up of kitteh over it (median vs median)
SPEEDUPS = {"imagemagick": 14.0, "pillow_naive": 4.0, "pyvips": 1.0}
SSIM_SLACK = 0.002
RSS_OVER_BASELINE_MB = 45.0
HANDLER_IMPORT_MS = 300.0
PACKAGE_MB = 25.0
#: A gallery page deep in 10,000 rows may take at most this times the first page.
DEEP_PAGE_RATIO = 1.5
#: Load: time from the last upload answered to the last image ready, relay running
#: events side by side over one at a time. Two cores: at best 0.5; a quarter off at least.
RELAY_SETTLE_RATIO = 0.75
#: Load: the counts that must be zero, without faults and with S3 reset twice.
LOAD_ZEROS = {
    "no_faults": ("lost", "duplicated", "ghost", "answers_5xx", "mismatched", "orphan_objects"),
    "s3_resets": ("lost", "duplicated", "ghost", "mismatched", "orphan_objects"),
}


def _check(name: str, value: float | None, ok: bool | None, detail: str) -> dict[str, Any]:
    status = "N/A" if ok is None else ("PASS" if ok else "MISS")
    return {"target": name, "value": value, "status": status, "detail": detail}


def _speed(inp: str, row: dict[str, Any], base: str, need: float) -> dict[str, Any]:
    name = f"{inp}: kitteh >= {need:g}x faster than {base}"
    k, b = row.get("kitteh_ms"), row.get(f"{base}_ms")
    if not k or not b:
        return _check(name, None, None, "not measured")
    ratio = b / k
    budget = b / need  # the kitteh time that would just meet the target
    if ratio >= need:
        detail = f"{ratio:.2f}x; {budget - k:.1f} ms headroom"
    else:
        detail = f"{ratio:.2f}x; kitteh {k:.1f} ms must reach {budget:.1f} ms (-{k - budget:.1f})"
    return _check(name, ratio, ratio >= need, detail)


def _ssim(inp: str, row: dict[str, Any]) -> dict[str, Any]:
    name = f"{inp}: SSIM(300) >= reference - {SSIM_SLACK}"
    k, ref = row.get("kitteh_ssim_300"), row.get("reference_ssim_300")
    if k is None or ref is None:
        return _check(name, None, None, "not measured")
    delta = k - ref
    return _check(name, delta, delta >= -SSIM_SLACK, f"{k:.4f} vs {ref:.4f} ({delta:+.4f})")


def _rss(inp: str, row: dict[str, Any]) -> dict[str, Any]:
    name = f"{inp}: peak RSS <= Pillow baseline + {RSS_OVER_BASELINE_MB:g} MB"
    over = row.get("kitteh_rss_over_baseline_mb")
    if over is None:
        return _check(name, None, None, "not measured")
    detail = f"+{over:.1f} MB ({RSS_OVER_BASELINE_MB - over:+.1f} MB to spare)"
    return _check(name, over, over <= RSS_OVER_BASELINE_MB, detail)


def _deep_page(stack: dict[str, Any] | None) -> dict[str, Any]:
    """Keyset pagination: the page after 9,900 rows costs what the first does."""
    name = f"gallery 10k: deep page p50 <= {DEEP_PAGE_RATIO:g}x first page p50"
    stack = stack or {}
    gallery = stack.get("gallery_10k") or {}
    ratio = gallery.get("deep_over_first")
    if ratio is None:
        why = gallery.get("error") or ("skipped (--no-stack)" if "skipped" in stack else None)
        return _check(name, None, None, why or "not measured")
    first, deep = gallery["first_page"]["p50_ms"], gallery["deep_page"]["p50_ms"]
    detail = (
        f"{ratio:.2f}x ({deep:.1f} vs {first:.1f} ms; {DEEP_PAGE_RATIO - ratio:+.2f}x to spare)"
    )
    return _check(name, ratio, ratio <= DEEP_PAGE_RATIO, detail)


def _load(stack: dict[str, Any] | None) -> list[dict[str, Any]]:
    stack = stack or {}
    load = stack.get("load") or {}
    phases = load.get("phases", {})
    why = load.get("error") or ("skipped (--no-stack)" if "skipped" in stack else "not measured")
    checks = []
    for phase, counts in LOAD_ZEROS.items():
        name = f"load {phase}: 0 {' / '.join(counts)}"
        figures = phases.get(phase)
        if figures is None:
            checks.append(_check(name, None, None, why))
            continue
        found = {count: figures[count] for count in counts if figures[count]}
        total = sum(found.values())
        detail = "all zero" if not found else ", ".join(f"{k} {v}" for k, v in found.items())
        detail += f" ({figures['answered_201']} of {load['uploads']} answered 201"
        detail += f", {figures['answers_5xx']} 5xx answers retried)"
        checks.append(_check(name, total, total == 0, detail))
    name = f"load: relay side by side settles in <= {RELAY_SETTLE_RATIO:g}x the serial relay's time"
    parallel, serial = phases.get("no_faults"), phases.get("serial_relay")
    if parallel is None or serial is None or not serial["settle_after_last_answer_s"]:
        checks.append(_check(name, None, None, why))
    else:
        side_by_side = parallel["settle_after_last_answer_s"]
        one_at_a_time = serial["settle_after_last_answer_s"]
        ratio = side_by_side / one_at_a_time
        detail = (
            f"{ratio:.2f}x ({side_by_side:.1f} vs {one_at_a_time:.1f} s; "
            f"{RELAY_SETTLE_RATIO - ratio:+.2f}x to spare)"
        )
        checks.append(_check(name, ratio, ratio <= RELAY_SETTLE_RATIO, detail))
    return checks


def evaluate(
    resize: dict[str, Any], cold: dict[str, Any], stack: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every target with PASS / MISS / N/A and its margin."""
    checks = [
        _speed(inp, resize[inp], base, need)
        for inp in SPEED_INPUTS
        if inp in resize
        for base, need in SPEEDUPS.items()
    ]
    checks += [_ssim(inp, row) for inp, row in resize.items()]
    checks += [_rss(inp, row) for inp, row in resize.items()]
    imp = cold.get("imports", {}).get("handlers.resize", {}).get("median_ms")
    name = f"handlers.resize import <= {HANDLER_IMPORT_MS:g} ms"
    checks.append(
        _check(name, imp, None, "not measured")
        if imp is None
        else _check(
            name,
            imp,
            imp <= HANDLER_IMPORT_MS,
            f"{imp:.0f} ms ({HANDLER_IMPORT_MS - imp:+.0f} ms to spare)",
        )
    )
    mb = cold.get("package", {}).get("mb")
    name = f"build/dev.zip <= {PACKAGE_MB:g} MB"
    checks.append(
        _check(name, None, None, "run make package first")
        if mb is None
        else _check(name, mb, mb <= PACKAGE_MB, f"{mb:.1f} MB ({PACKAGE_MB - mb:+.1f} MB to spare)")
    )
    checks.append(_deep_page(stack))
    checks += _load(stack)
    return checks
