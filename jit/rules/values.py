"""Reading one value of the rules file (a duration, a list of people, a channel, a port…) from its YAML node, with
every mistake collected and named by its line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import time, timedelta

import yaml

from jit.durations import DurationError, humanize, parse_duration
from jit.model import MAX_ACCESS, MIN_ACCESS, WELL_KNOWN_PORTS
from jit.routing import WEEKDAY_NAMES

_PRINCIPAL = re.compile(r"[UWS][A-Z0-9]{2,}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")
MAX_QUORUM = 10
MAX_REMINDERS = 10


class ValueReader:
    """Reads typed values from YAML nodes; ``problems`` lists every mistake as ``file:line: what``."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[tuple[int, str]] = []

    def fail(self, node: yaml.Node, problem: str) -> None:
        self.found.append((node.start_mark.line + 1, f"{self.source}:{node.start_mark.line + 1}: {problem}"))

    @property
    def problems(self) -> list[str]:
        """Every problem, in file order."""
        return [text for _, text in sorted(self.found, key=lambda found: found[0])]

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping of `key: value` lines")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.fail(key_node, f"{what} has a key that is not plain text")
                continue
            if key in out:
                self.fail(key_node, f"`{key}` appears twice in {what}")
                continue
            if key not in allowed:
                guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean `{guess[0]}`?)" if guess else f"; allowed: {', '.join(allowed)}"
                self.fail(key_node, f"unknown key `{key}` in {what}{hint}")
                continue
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node, key: str) -> yaml.ScalarNode | None:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"`{key}` must be a single value")
            return None
        return node

    def text(self, node: yaml.Node, key: str) -> str | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        value = str(scalar.value).strip()
        if not value:
            self.fail(node, f"`{key}` is empty")
            return None
        return value

    def texts(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node]] | None:
        """A value or a list of values (``a`` or ``[a, b]``), each with its node for line numbers."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[tuple[str, yaml.Node]] = []
        for item in items:
            value = self.text(item, key)
            if value is None:
                return None
            out.append((value, item))
        return out

    def flag(self, node: yaml.Node, key: str) -> bool | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        if scalar.tag != "tag:yaml.org,2002:bool":
            self.fail(node, f"`{key}` must be true or false, not {scalar.value!r}")
            return None
        return str(scalar.value).lower() in ("true", "yes", "on", "y")

    def principals(self, node: yaml.Node, key: str, *, allow_empty: bool = True) -> tuple[str, ...] | None:
        items = self.texts(node, key) if not _empty_list(node) else []
        if items is None:
            return None
        if not items and not allow_empty:
            self.fail(node, f"`{key}` needs at least one user id (U…) or user group id (S…)")
            return None
        for value, item in items:
            if not _PRINCIPAL.fullmatch(value):
                self.fail(item, f"{value!r} in `{key}` is not a Slack user id (U…/W…) or user group id (S…)")
                return None
        return tuple(dict.fromkeys(value for value, _ in items))

    def channel(self, node: yaml.Node, key: str) -> str | None:
        value = self.text(node, key)
        if value is not None and not _CHANNEL.fullmatch(value):
            self.fail(node, f"{value!r} in `{key}` is not a channel id (C… or G…; names can change, ids do not)")
            return None
        return value

    def duration(self, node: yaml.Node, key: str) -> timedelta | None:
        value = self.text(node, key)
        if value is None:
            return None
        try:
            parsed = parse_duration(value)
        except DurationError:
            self.fail(node, f"`{key}: {value}` is not a duration; write it like 30m, 2h, 1h30m or PT2H")
            return None
        if parsed <= timedelta(0):
            self.fail(node, f"`{key}` must be longer than zero")
            return None
        return parsed

    def window(self, node: yaml.Node, key: str) -> timedelta | None:
        value = self.duration(node, key)
        if value is not None and not MIN_ACCESS <= value <= MAX_ACCESS:
            self.fail(
                node, f"`{key}` must be between {humanize(MIN_ACCESS)} and {humanize(MAX_ACCESS)} (Azure's limits)"
            )
            return None
        return value

    def clock(self, node: yaml.Node, key: str) -> time | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        value = str(scalar.value).strip()
        if scalar.tag == "tag:yaml.org,2002:int":
            self.fail(node, f'`{key}` must be quoted, like "09:00" (YAML reads 09:00 unquoted as a number)')
            return None
        found = _CLOCK.fullmatch(value)
        if not found or (found.group(1) == "24" and found.group(2) != "00"):
            self.fail(node, f'`{key}: {value}` is not a time of day like "09:00"')
            return None
        hour, minute = int(found.group(1)), int(found.group(2))
        return time.max if hour == 24 else time(hour, minute)

    def days(self, node: yaml.Node) -> frozenset[int] | None:
        items = self.texts(node, "days")
        if items is None:
            return None
        days: set[int] = set()
        for value, item in items:
            for part in value.lower().replace(" ", "").split(","):
                first, _, last = part.partition("-")
                if first not in WEEKDAY_NAMES or (last and last not in WEEKDAY_NAMES):
                    self.fail(item, f"{value!r} in `days` is not a day or range like mon-fri, sat, sun")
                    return None
                a, b = WEEKDAY_NAMES.index(first), WEEKDAY_NAMES.index(last or first)
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        return frozenset(days)

    def pattern(self, node: yaml.Node) -> str | None:
        value = self.text(node, "ticket_pattern")
        if value is None:
            return None
        try:
            re.compile(value)
        except re.error as exc:
            self.fail(node, f"`ticket_pattern` {value!r} is not a regular expression: {exc}")
            return None
        return value

    def quorum(self, node: yaml.Node) -> int | None:
        scalar = self.scalar(node, "quorum")
        if scalar is None:
            return None
        if scalar.tag != "tag:yaml.org,2002:int" or not 1 <= int(scalar.value) <= MAX_QUORUM:
            self.fail(node, f"`quorum` must be a whole number from 1 to {MAX_QUORUM}, not {scalar.value!r}")
            return None
        return int(scalar.value)

    def reminders(self, node: yaml.Node) -> tuple[timedelta, ...] | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            if str(node.value).lower() in ("false", "no", "off", "n"):
                return ()
            self.fail(node, "`remind_approvers` is a list of waits like [5m, 10m, 20m], or false")
            return None
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, "`remind_approvers` is a list of waits like [5m, 10m, 20m], or false")
            return None
        if len(node.value) > MAX_REMINDERS:
            self.fail(node, f"`remind_approvers` may list at most {MAX_REMINDERS} waits")
            return None
        waits = [self.duration(item, "remind_approvers") for item in node.value]
        return None if any(w is None for w in waits) else tuple(w for w in waits if w is not None)

    def ports(self, node: yaml.Node) -> tuple[int, ...] | None:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        ports: list[int] = []
        for item in items:
            scalar = self.scalar(item, "ports")
            if scalar is None:
                return None
            value = str(scalar.value).strip().lower()
            if value in WELL_KNOWN_PORTS:
                ports.extend(WELL_KNOWN_PORTS[value])
            elif value.isdigit() and 1 <= int(value) <= 65535:
                ports.append(int(value))
            else:
                self.fail(item, f"{scalar.value!r} in `ports` is not a port (ssh, rdp, winrm or 1-65535)")
                return None
        if not ports:
            self.fail(node, "`ports` needs at least one port")
            return None
        return tuple(dict.fromkeys(ports))

    def listed(self, fields: Mapping[str, yaml.Node], key: str) -> list[tuple[str, yaml.Node]]:
        return (self.texts(fields[key], key) or []) if key in fields else []


def _empty_list(node: yaml.Node) -> bool:
    return isinstance(node, yaml.SequenceNode) and not node.value
