"""The enable/edit JIT modal (one group of inputs per port, plus free lines for extra ports), the parser that
turns its submission into port rules or inline errors, and the disable confirmation.

Slack modals cannot add inputs on the fly without a round trip, so existing ports get their own inputs (with a
"remove" box each) and new ports go in one multi-line field, one port per line (``8080 tcp 10.0.0.0/8 2h``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import (
    MAX_VIEW_BLOCKS,
    Message,
    code,
    context,
    divider,
    duration_text,
    escape_mrkdwn,
    mention,
    message,
    plain,
    render,
    section,
)
from bot.blocks.describe import policy_port_line
from bot.grammar import GrammarError, parse_source
from jit.durations import DurationError, parse_duration
from jit.model import (
    ANY_SOURCE,
    DEFAULT_MAX_ACCESS,
    MAX_ACCESS,
    MIN_ACCESS,
    RECOMMENDED_PORTS,
    JitPolicy,
    PolicyPort,
    PortProtocol,
    VmRef,
)

POLICY_CALLBACK_ID = "jit_policy_modal"
DISABLE_CALLBACK_ID = "jit_disable_modal"
EXTRA_PORTS_BLOCK = "extra_ports"
VALUE_ACTION = "value"
MAX_PORT_SLOTS = 12
MAX_SOURCES = 50
_SLOT_BLOCK = re.compile(r"port_([0-9]{1,2})_number")
_PROTOCOL_WORDS: Mapping[str, PortProtocol] = {
    "tcp": PortProtocol.TCP,
    "udp": PortProtocol.UDP,
    "any": PortProtocol.ANY,
    "*": PortProtocol.ANY,
}
_PROTOCOL_LABELS: Mapping[PortProtocol, str] = {
    PortProtocol.TCP: "TCP",
    PortProtocol.UDP: "UDP",
    PortProtocol.ANY: "Any",
}
_PORT_NAMES: Mapping[int, str] = {22: "SSH", 3389: "RDP", 5985: "WinRM", 5986: "WinRM over HTTPS"}
EXTRA_PORTS_HINT = (
    "One port per line: port, then optionally protocol (tcp, udp or any), allowed sources "
    "(comma-separated IPs or CIDR ranges, or * for any) and maximum time (5m to 24h). "
    "Example: 8080 tcp 10.0.0.0/8 2h. Defaults: any protocol, any source, 3h."
)


def block_id(slot: int, part: str) -> str:
    """The block id of one input of one port slot, e.g. ``port_0_sources``."""
    return f"port_{slot}_{part}"


def _duration_input_text(value: timedelta) -> str:
    return duration_text(value).replace(" ", "")


def _protocol_option(protocol: PortProtocol) -> Option:
    return Option(value=protocol.value, text=_PROTOCOL_LABELS[protocol])


def extra_port_line(port: PolicyPort) -> str:
    """A port rule written as one line of the extra-ports field (round-trips through the parser)."""
    protocol = "any" if port.protocol is PortProtocol.ANY else port.protocol.value.lower()
    return f"{port.number} {protocol} {','.join(port.allowed_sources)} {_duration_input_text(port.max_duration)}"


def _slot_blocks(slot: int, port: PolicyPort) -> list[Block]:
    name = _PORT_NAMES.get(port.number)
    title = f"Port {slot + 1}" + (f" ({name})" if name else "")
    return [
        divider(),
        InputBlock(
            block_id=block_id(slot, "number"),
            label=plain(f"{title}: port number", 2000),
            element=PlainTextInputElement(action_id=VALUE_ACTION, initial_value=str(port.number), max_length=5),
        ),
        InputBlock(
            block_id=block_id(slot, "protocol"),
            label=plain("Protocol", 2000),
            element=StaticSelectElement(
                action_id=VALUE_ACTION,
                options=[_protocol_option(p) for p in (PortProtocol.TCP, PortProtocol.UDP, PortProtocol.ANY)],
                initial_option=_protocol_option(port.protocol),
            ),
        ),
        InputBlock(
            block_id=block_id(slot, "sources"),
            label=plain("Allowed source IPs or ranges", 2000),
            hint=plain("Comma-separated, e.g. 10.0.0.0/8, 203.0.113.7 — or * for any source.", 2000),
            element=PlainTextInputElement(
                action_id=VALUE_ACTION, initial_value=", ".join(port.allowed_sources), max_length=2000
            ),
        ),
        InputBlock(
            block_id=block_id(slot, "max"),
            label=plain("Maximum request time", 2000),
            hint=plain("Between 5m and 24h, e.g. 30m, 3h, 1h30m or PT3H.", 2000),
            element=PlainTextInputElement(
                action_id=VALUE_ACTION, initial_value=_duration_input_text(port.max_duration), max_length=32
            ),
        ),
        InputBlock(
            block_id=block_id(slot, "remove"),
            label=plain("Remove", 2000),
            optional=True,
            element=CheckboxesElement(
                action_id=VALUE_ACTION,
                options=[Option(value="remove", text=f"Remove port {port.number} from the policy")],
            ),
        ),
    ]


def recommended_ports() -> tuple[PolicyPort, ...]:
    """The portal's defaults: 22, 3389, 5985, 5986, any protocol, any source, 3 hours."""
    return tuple(PolicyPort(number=p, max_duration=DEFAULT_MAX_ACCESS) for p in RECOMMENDED_PORTS)


def policy_modal(vm: VmRef, policy: JitPolicy | None = None, *, notice: str | None = None) -> dict[str, Any]:
    """The enable (``policy`` None: recommended ports) or edit modal for ``vm``; private_metadata is the VM id.

    ``notice`` (mrkdwn) is shown under the introduction, e.g. that Azure Policy refused this VM last time.
    """
    ports = policy.ports if policy is not None else recommended_ports()
    slots, overflow = ports[:MAX_PORT_SLOTS], ports[MAX_PORT_SLOTS:]
    verb = "Change" if policy is not None else "Turn on"
    blocks: list[Block] = [
        section(
            f"{verb} just-in-time access for {code(vm.name, 80)} (resource group {code(vm.resource_group, 90)}, "
            f"{code(vm.location, 40)}). Each port below is closed until someone's request is approved, and then "
            "opened only to the requested source for at most its maximum time."
        ),
    ]
    if notice:
        blocks.append(context(notice))
    for slot, port in enumerate(slots):
        blocks += _slot_blocks(slot, port)
    blocks += [
        divider(),
        InputBlock(
            block_id=EXTRA_PORTS_BLOCK,
            label=plain("Add ports", 2000),
            hint=plain(EXTRA_PORTS_HINT, 2000),
            optional=True,
            element=PlainTextInputElement(
                action_id=VALUE_ACTION,
                multiline=True,
                max_length=3000,
                initial_value="\n".join(extra_port_line(p) for p in overflow) or None,
                placeholder=plain("8080 tcp 10.0.0.0/8 2h", 150),
            ),
        ),
        context("Other VMs in the same Azure policy are not changed."),
    ]
    view = View(
        type="modal",
        callback_id=POLICY_CALLBACK_ID,
        title=plain("Edit JIT" if policy is not None else "Enable JIT", 24),
        submit=plain("Save", 24),
        close=plain("Cancel", 24),
        private_metadata=vm.id,
        blocks=render(blocks, MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


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


def policy_saved_message(vm: VmRef, policy: JitPolicy, actor: str) -> Message:
    """The confirmation after Save: which ports are now under JIT, and who changed them."""
    lines = "\n".join(f"• {policy_port_line(p)}" for p in policy.ports[:30])
    text = f":shield: {mention(actor)} saved the JIT policy of {code(vm.name, 80)}:\n{lines}"
    return message(f"JIT policy of {escape_mrkdwn(vm.name)} saved.", [section(text)])


def disable_modal(vm: VmRef) -> dict[str, Any]:
    """The confirmation before `/jit disable`: what turning JIT off means, with the VM id in private_metadata."""
    text = (
        f"Remove {code(vm.name, 80)} (resource group {code(vm.resource_group, 90)}) from just-in-time access?\n\n"
        "• JIT's deny rules leave the network security group, so its ports follow the group's other rules, "
        "which may leave them open.\n"
        "• Nobody can request access to it with `/jit` until JIT is enabled again.\n"
        "• Other VMs in the same policy are not changed."
    )
    view = View(
        type="modal",
        callback_id=DISABLE_CALLBACK_ID,
        title=plain("Disable JIT", 24),
        submit=plain("Disable JIT", 24),
        close=plain("Keep it", 24),
        private_metadata=vm.id,
        blocks=render([section(text)], MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


def policy_disabled_message(vm: VmRef, actor: str) -> Message:
    """The confirmation after JIT was turned off on a VM."""
    text = f":unlock: {mention(actor)} removed {code(vm.name, 80)} from just-in-time access."
    return message(f"JIT disabled on {escape_mrkdwn(vm.name)}.", [section(text)])
