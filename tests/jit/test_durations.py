"""Durations as people type them and as Azure writes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jit.durations import DurationError, humanize, parse_duration, to_iso8601


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1d", timedelta(days=1)),
        ("PT2H", timedelta(hours=2)),
        ("pt15m", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
    ],
)
def test_accepted_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "2", "2x", "h", "PT", "P", "1h30", "-1h", "1.5h", "9999999d", "2 h", "\u0662h", "\uff12h"]
)
def test_rejected_forms(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=86400 * 30))
def test_iso_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(to_iso8601(value)) == value


def test_azure_spellings_and_human_form() -> None:
    assert to_iso8601(timedelta(hours=3)) == "PT3H"
    assert to_iso8601(timedelta(days=1)) == "P1D"
    assert to_iso8601(timedelta(minutes=5)) == "PT5M"
    assert humanize(timedelta(hours=1, minutes=30)) == "1h 30m"
    assert humanize(timedelta(seconds=20)) == "20s"
