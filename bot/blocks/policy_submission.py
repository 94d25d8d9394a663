"""Reads a submitted enable/edit JIT modal (``bot.blocks.policy_modal``) into port rules, or into one inline error
per input that is wrong, so nothing is saved until every input is right."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bot.blocks.policy_modal import EXTRA_PORTS_BLOCK, MAX_SOURCES, VALUE_ACTION, block_id
from bot.grammar import GrammarError, parse_source
from jit.durations import DurationError, parse_duration
from jit.model import ANY_SOURCE, DEFAULT_MAX_ACCESS, MAX_ACCESS, MIN_ACCESS, PolicyPort, PortProtocol

_SLOT_BLOCK = re.compile(r"port_([0-9]{1,2})_number")
_PROTOCOL_WORDS: Mapping[str, PortProtocol] = {
    "tcp": PortProtocol.TCP,
    "udp": PortProtocol.UDP,
    "any": PortProtocol.ANY,
    "*": PortProtocol.ANY,
}


def _values(view_state: Mapping[str, Any]) -> Mapping[str, Any]:
    values = view_state.get("values", view_state) if isinstance(view_state, Mapping) else {}
    return values if isinstance(values, Mapping) else {}


def _element(values: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    entry = values.get(block)
    if not isinstance(entry, Mapping):
        return {}
    element = entry.get(VALUE_ACTION)
    if not isinstance(element, Mapping):
        element = next((v for v in entry.values() if isinstance(v, Mapping)), {})
    return element


def _text(values: Mapping[str, Any], block: str) -> str:
    value = _element(values, block).get("value")
    return value if isinstance(value, str) else ""


def _selected(values: Mapping[str, Any], block: str) -> str | None:
    option = _element(values, block).get("selected_option")
    if isinstance(option, Mapping) and isinstance(option.get("value"), str):
        return str(option["value"])
    return None


def _checked(values: Mapping[str, Any], block: str) -> bool:
    options = _element(values, block).get("selected_options")
    return isinstance(options, list) and any(isinstance(o, Mapping) and o.get("value") == "remove" for o in options)


class _FieldError(ValueError):
    """One field's inline error message."""


def parse_port_number(text: str) -> int:
    """A port number from 1 to 65535 (plain ASCII digits)."""
    raw = text.strip()
    if not raw:
        raise _FieldError("Enter a port number from 1 to 65535.")
    if not re.fullmatch(r"[0-9]{1,6}", raw, re.ASCII):
        raise _FieldError(f"“{_short(raw)}” is not a port number; use digits, 1 to 65535.")
    number = int(raw)
    if not 1 <= number <= 65535:
        raise _FieldError(f"Port {number} is out of range: use 1 to 65535.")
    return number


def parse_sources(text: str) -> tuple[str, ...]:
    """Comma-separated IPs/CIDRs, or ``*`` alone; canonical and without duplicates."""
    items = [item for item in re.split(r"[,\s;]+", text.strip()) if item]
    if not items:
        raise _FieldError("Enter at least one source IP or range, or * for any source.")
    if len(items) > MAX_SOURCES:
        raise _FieldError(f"That is {len(items)} sources; at most {MAX_SOURCES}.")
    sources: list[str] = []
    for item in items:
        if item in (ANY_SOURCE, "any", "Any", "ANY"):
            sources.append(ANY_SOURCE)
            continue
        try:
            sources.append(parse_source(item))
        except GrammarError as error:
            raise _FieldError(error.problem.replace("`", "")) from None
    unique = tuple(dict.fromkeys(sources))
    if ANY_SOURCE in unique and len(unique) > 1:
        raise _FieldError("* already allows any source; use it alone or list specific sources.")
    return unique


def parse_max_time(text: str) -> timedelta:
    """A maximum request time between 5 minutes and 24 hours."""
    raw = text.strip()
    if not raw:
        raise _FieldError("Enter a maximum time between 5m and 24h, e.g. 3h.")
    try:
        if not raw.isascii() or len(raw) > 32:
            raise DurationError(raw)
        value = parse_duration(raw)
    except DurationError:
        raise _FieldError(f"“{_short(raw)}” is not a duration; write e.g. 30m, 3h, 1h30m or PT3H.") from None
    if not MIN_ACCESS <= value <= MAX_ACCESS:
        raise _FieldError(f"{_short(raw)} is outside 5 minutes to 24 hours.")
    return value


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _parse_extra_line(line: str) -> PolicyPort:
    tokens = line.split()
    head = tokens[0]
    protocol = PortProtocol.ANY
    if "/" in head and head.split("/", 1)[1].lower() in _PROTOCOL_WORDS:
        head, word = head.split("/", 1)
        protocol = _PROTOCOL_WORDS[word.lower()]
    number = parse_port_number(head)
    sources: tuple[str, ...] = (ANY_SOURCE,)
    max_time = DEFAULT_MAX_ACCESS
    seen: set[str] = set()
    for token in tokens[1:]:
        lowered = token.lower()
        if lowered in ("tcp", "udp", "any") and "protocol" not in seen:
            protocol, kind = _PROTOCOL_WORDS[lowered], "protocol"
        elif _looks_like_duration(token) and "max" not in seen:
            max_time, kind = parse_max_time(token), "max"
        elif "sources" not in seen:
            sources, kind = parse_sources(token), "sources"
        else:
            raise _FieldError(f"“{_short(token)}” is extra; write port, protocol, sources, time.")
        seen.add(kind)
    return PolicyPort(number=number, protocol=protocol, allowed_sources=sources, max_duration=max_time)


def _looks_like_duration(token: str) -> bool:
    return bool(re.fullmatch(r"(?:[0-9]+[dhms])+|P[0-9A-Za-z.]*", token, re.ASCII | re.IGNORECASE))


def parse_policy_submission(view_state: Mapping[str, Any]) -> list[PolicyPort] | dict[str, str]:
    """The port rules an admin saved, or ``{block_id: message}`` for Slack's ``response_action: errors``."""
    values = _values(view_state)
    errors: dict[str, str] = {}
    ports: list[PolicyPort] = []
    seen: dict[int, str] = {}
    slots = sorted(int(m.group(1)) for key in values if isinstance(key, str) and (m := _SLOT_BLOCK.fullmatch(key)))
    for slot in slots:
        if _checked(values, block_id(slot, "remove")):
            continue
        port = _parse_slot(values, slot, errors)
        number = port.number if port is not None else _slot_number(values, slot)
        if number is None:
            continue
        if number in seen:
            errors[block_id(slot, "number")] = f"Port {number} is listed twice ({seen[number]}); keep one."
            continue
        seen[number] = f"port {slots.index(slot) + 1}"
        if port is not None:
            ports.append(port)
    for index, line in enumerate(_text(values, EXTRA_PORTS_BLOCK).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            port = _parse_extra_line(line)
        except _FieldError as error:
            errors.setdefault(EXTRA_PORTS_BLOCK, f"Line {index}: {error}")
            continue
        if port.number in seen:
            errors.setdefault(
                EXTRA_PORTS_BLOCK, f"Line {index}: port {port.number} is listed twice ({seen[port.number]}); keep one."
            )
            continue
        seen[port.number] = f"line {index}"
        ports.append(port)
    if errors:
        return errors
    if not ports:
        return {EXTRA_PORTS_BLOCK: "Keep at least one port. To turn JIT off for this VM, use /jit disable."}
    return ports


def _slot_number(values: Mapping[str, Any], slot: int) -> int | None:
    """The slot's port number when it is valid, even if the slot's other inputs are not (duplicates still count)."""
    try:
        return parse_port_number(_text(values, block_id(slot, "number")))
    except _FieldError:
        return None


def _parse_slot(values: Mapping[str, Any], slot: int, errors: dict[str, str]) -> PolicyPort | None:
    parsed: dict[str, Any] = {}
    for part, parse in (("number", parse_port_number), ("sources", parse_sources), ("max", parse_max_time)):
        try:
            parsed[part] = parse(_text(values, block_id(slot, part)))
        except _FieldError as error:
            errors[block_id(slot, part)] = str(error)
    protocol_value = _selected(values, block_id(slot, "protocol"))
    protocol = next((p for p in PortProtocol if p.value == protocol_value), None)
    if protocol is None:
        errors[block_id(slot, "protocol")] = "Choose TCP, UDP or Any."
    if len(parsed) < 3 or protocol is None:
        return None
    return PolicyPort(
        number=parsed["number"], protocol=protocol, allowed_sources=parsed["sources"], max_duration=parsed["max"]
    )
