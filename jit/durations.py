"""Durations as people type them (``90m``, ``1h30m``, ``2h``, ``PT2H``) and as Azure wants them (ISO 8601)."""

from __future__ import annotations

import re
from datetime import timedelta

_HUMAN = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$", re.ASCII)
_ISO = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$", re.ASCII)
MAX_REASONABLE = timedelta(days=366)


class DurationError(ValueError):
    """A duration that is not in one of the accepted forms."""


def parse_duration(text: str) -> timedelta:
    """Parse ``90m``, ``2h``, ``1h30m``, ``45s``, ``1d`` or ISO 8601 ``PT2H``; raise DurationError otherwise."""
    raw = text.strip()
    if not raw:
        raise DurationError("empty duration")
    match = _ISO.match(raw.upper()) if raw[:1] in "Pp" else _HUMAN.match(raw.lower())
    if match is None or not any(match.groupdict().values()) or (raw.upper().endswith("T")):
        raise DurationError(f"{text!r} is not a duration like 90m, 2h, 1h30m or PT2H")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    try:
        value = timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    except OverflowError as exc:
        raise DurationError(f"{text!r} is far too long") from exc
    if value > MAX_REASONABLE:
        raise DurationError(f"{text!r} is far too long")
    return value


def to_iso8601(value: timedelta) -> str:
    """Render a duration the way Azure writes ``maxRequestAccessDuration`` (``PT3H``, ``PT1H30M``, ``P1D``)."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P"
    if days:
        out += f"{days}D"
    if hours or minutes or seconds or not days:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if seconds or (not hours and not minutes):
            out += f"{seconds}S"
    return out


def humanize(value: timedelta) -> str:
    """A short human form (``2h``, ``1h 30m``, ``45m``, ``1d 2h``) for cards and messages."""
    total = max(0, int(value.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if not parts:
        return f"{seconds}s"
    return " ".join(parts)
