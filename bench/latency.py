"""Latency summaries shared by the stack benchmarks."""

from __future__ import annotations

import statistics
from typing import Any


def summarise(samples_ms: list[float]) -> dict[str, Any]:
    """p50, p95, min, max and mean of ``samples_ms``, rounded to 0.1 ms.

    p95 interpolates linearly between order statistics (``statistics.quantiles``,
    inclusive), so with 30 samples it lies between the 28th and 29th smallest: one
    slow outlier moves max, not p95.
    """
    if not samples_ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "min_ms": None, "max_ms": None}
    p95 = (
        statistics.quantiles(samples_ms, n=20, method="inclusive")[-1]
        if len(samples_ms) > 1
        else samples_ms[0]
    )
    return {
        "n": len(samples_ms),
        "p50_ms": round(statistics.median(samples_ms), 1),
        "p95_ms": round(p95, 1),
        "min_ms": round(min(samples_ms), 1),
        "max_ms": round(max(samples_ms), 1),
        "mean_ms": round(statistics.fmean(samples_ms), 1),
    }
