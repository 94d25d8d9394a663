"""Percentiles and summaries of timing samples, so every scenario reports numbers the same way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """How a set of samples is reported: count, p50, p99, mean and max (seconds)."""

    n: int
    p50: float
    p99: float
    mean: float
    max: float


def summarize(values: Sequence[float]) -> Summary:
    """Summary of ``values``; every statistic is NaN when there are none."""
    if not values:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    return Summary(
        n=len(values),
        p50=percentile(values, 50),
        p99=percentile(values, 99),
        mean=sum(values) / len(values),
        max=max(values),
    )


def overlap(intervals: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Total time the ``(start, end)`` intervals cover inside ``[start, end]`` (overlaps counted once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total = 0.0
    current: tuple[float, float] | None = None
    for a, b in clipped:
        if current is None or a > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (a, b)
        else:
            current = (current[0], max(current[1], b))
    if current is not None:
        total += current[1] - current[0]
    return total
