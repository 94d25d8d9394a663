"""Rows and tables of the benchmark report, and how values are written in them."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measurement: a value per column, the target (if any) and PASS/MISS against it."""

    label: str
    values: tuple[str, ...]
    target: str = ""
    verdict: str = ""


@dataclass(frozen=True)
class Table:
    """A titled group of rows sharing columns."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def ms(seconds: float) -> str:
    """Seconds as milliseconds with two decimals; n/a for NaN."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when the denominator is not a positive number."""
    return numerator / denominator if denominator > 0 and not math.isnan(denominator) else math.nan


def times(value: float) -> str:
    """A ratio as ``1.5×``; n/a for NaN."""
    return "n/a" if math.isnan(value) else f"{value:.1f}×"
