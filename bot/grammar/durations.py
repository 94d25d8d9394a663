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
    return corrected_duration(token) or EXAMPLE_DURATION


def corrected_duration(token: str) -> str | None:
    """``token`` as a valid duration, also when written with a sign (``-1h``) or a unit word (``1hr``,
    ``90mins``, ``1h30min``); None when it is not one."""
    folded = fold(token).strip().lower()
    unsigned = folded.lstrip("+-−–—")
    return valid_duration(unsigned) or _respelt(unsigned)


def meant_as_duration(token: str) -> bool:
    """True when ``token`` is a duration of any length, a number, or one ``corrected_duration`` can fix: what
    stands in the duration's place was meant as one (``web/web-01`` or ``2x`` were not)."""
    folded = fold(token).strip().lower()
    if not folded.isascii() or len(folded) > 32:
        return False
    try:
        parse_duration(folded)
    except DurationError:
        return folded.isdigit() or corrected_duration(token) is not None
    return True


def _respelt(token: str) -> str | None:
    """``1hr`` → ``1h``: a number-and-unit-word sequence written with the units a duration uses."""
    pairs = re.findall(r"([0-9]{1,4})\s*([a-z]+)", token, re.ASCII)
    if not pairs or "".join(n + u for n, u in pairs) != token.replace(" ", ""):
        return None
    if any(unit not in _UNIT_WORDS for _, unit in pairs):
        return None
    return valid_duration("".join(n + _UNIT_WORDS[unit] for n, unit in pairs))


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
        corrected = corrected_duration(token)
        if corrected is not None:
            why = "durations are never negative" if folded[:1] in "+-−–—" else "write the units as `m` and `h`"
            problem = f"{shown(token)} is not a duration ({why}); did you mean `{corrected}`?"
            raise GrammarError(problem, build(corrected)) from None
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
