"""How long access should last, as people write it: ``90m``, ``2h``, ``1h30m``, ``PT2H`` (5 minutes to 24 hours)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.grammar.errors import EXAMPLE_DURATION, ExampleFn, GrammarError
from bot.grammar.text import fold, shown
from jit.durations import DurationError, humanize, parse_duration
from jit.model import MIN_ACCESS

MAX_COMMAND_ACCESS = timedelta(hours=24)
_UNIT_WORDS = {
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
}


def unit_word(rest: list[str]) -> bool:
    """True when ``rest`` starts with a unit written apart from its number (``2 hours``)."""
    return bool(rest) and fold(rest[0]).lower() in _UNIT_WORDS


def example_duration(token: str) -> str:
    """``token`` as a valid duration for a corrected command, else the standard example."""
    return valid_duration(token) or EXAMPLE_DURATION


def valid_duration(token: str) -> str | None:
    """``token`` as a command writes it when it is a valid access duration, else None."""
    folded = fold(token)
    try:
        value = parse_duration(folded) if folded.isascii() and len(folded) <= 32 else None
    except DurationError:
        value = None
    if value is None or not MIN_ACCESS <= value <= MAX_COMMAND_ACCESS:
        return None
    return duration_text(value)


def duration_text(value: timedelta) -> str:
    """A duration as a command writes it (``1h30m``)."""
    return humanize(value).replace(" ", "")


def parse_access_duration(token: str, build: ExampleFn, following: list[str]) -> timedelta:
    """How long access should last; ``following`` (the words after it) catches a unit written apart."""
    folded = fold(token).lower()
    if folded.isascii() and re.fullmatch(r"[0-9]{1,4}", folded, re.ASCII) and unit_word(following):
        unit = _UNIT_WORDS[fold(following[0]).lower()]
        raise GrammarError(f"Write the duration without a space, like `{folded}{unit}`.", build(f"{folded}{unit}"))
    if folded.isascii() and re.fullmatch(r"[0-9]{1,4}", folded, re.ASCII):
        raise GrammarError(f"{shown(token)} needs a unit: `m` for minutes or `h` for hours.", build(f"{folded}h"))
    if not folded.isascii() or len(folded) > 32:
        raise GrammarError(
            f"{shown(token)} is not a duration. Use forms like `90m`, `2h`, `1h30m` or `PT2H`.",
            build(EXAMPLE_DURATION),
        )
    try:
        value = parse_duration(folded)
    except DurationError:
        looks_like_vm_word = not re.search(r"[0-9]", folded)
        problem = (
            f"{shown(token)} is not a duration. Put how long you need after the VM, like `90m`, `2h`, "
            "`1h30m` or `PT2H`."
            if looks_like_vm_word
            else f"{shown(token)} is not a duration. Use forms like `90m`, `2h`, `1h30m` or `PT2H`."
        )
        raise GrammarError(problem, build(EXAMPLE_DURATION)) from None
    if value < MIN_ACCESS:
        raise GrammarError(f"{shown(token)} is too short: access lasts at least {humanize(MIN_ACCESS)}.", build("5m"))
    if value > MAX_COMMAND_ACCESS:
        raise GrammarError(
            f"{shown(token)} is too long: access lasts at most 24 hours (your VM's policy may allow less).",
            build("24h" if value < timedelta(days=2) else EXAMPLE_DURATION),
        )
    return value
