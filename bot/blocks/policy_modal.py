"""The enable/edit JIT modal (one group of inputs per port, plus free lines for extra ports) and the disable
confirmation; ``bot.blocks.policy_submission`` reads what was submitted.

Slack modals cannot add inputs on the fly without a round trip, so existing ports get their own inputs (with a
"remove" box each) and new ports go in one multi-line field, one port per line (``8080 tcp 10.0.0.0/8 2h``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
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
from bot.blocks.sharing import held_port_lines
from jit.model import (
    DEFAULT_MAX_ACCESS,
    RECOMMENDED_PORTS,
    HeldPort,
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
MAX_WARNED_PORTS = 10
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


def policy_saved_message(vm: VmRef, policy: JitPolicy, actor: str) -> Message:
    """The confirmation after Save: which ports are now under JIT, and who changed them."""
    lines = "\n".join(f"• {policy_port_line(p)}" for p in policy.ports[:30])
    text = f":shield: {mention(actor)} saved the JIT policy of {code(vm.name, 80)}:\n{lines}"
    return message(f"JIT policy of {escape_mrkdwn(vm.name)} saved.", [section(text)])


def disable_modal(vm: VmRef, open_now: Sequence[HeldPort], now: datetime) -> dict[str, Any]:
    """The confirmation before `/jit disable`: what turning JIT off means, with the VM id in private_metadata; when
    someone holds a port (``open_now``), who, until when, and what becomes of their access."""
    text = (
        f"Remove {code(vm.name, 80)} (resource group {code(vm.resource_group, 90)}) from just-in-time access?\n\n"
        "• JIT's deny rules leave the network security group, so its ports follow the group's other rules, "
        "which may leave them open.\n"
        "• Nobody can request access to it with `/jit` until JIT is enabled again.\n"
        "• Other VMs in the same policy are not changed."
    )
    blocks: list[Block] = [section(text)]
    if open_now:
        blocks += _open_grants_warning(open_now, now)
    view = View(
        type="modal",
        callback_id=DISABLE_CALLBACK_ID,
        title=plain("Disable JIT", 24),
        submit=plain("Disable JIT", 24),
        close=plain("Keep it", 24),
        private_metadata=vm.id,
        blocks=render(blocks, MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


def _open_grants_warning(open_now: Sequence[HeldPort], now: datetime) -> list[Block]:
    """What becomes of access open now (first, so it is never cut), then who holds what until when."""
    count = len(open_now)
    ports = "1 port is" if count == 1 else f"{count} ports are"
    what_happens = (
        f":warning: *{ports} open on this VM right now.* Disabling JIT does not close "
        f"{'it' if count == 1 else 'them'}: Azure keeps what it opened until the end shown and closes it then, but "
        "it can no longer be extended. To close a jitbot grant now, use `/jit revoke <request-id>` (or Close on "
        "the grant) first."
    )
    lines = held_port_lines(open_now[:MAX_WARNED_PORTS], now)
    more = [f"• and {count - MAX_WARNED_PORTS} more"] if count > MAX_WARNED_PORTS else []
    return [section(what_happens), section("\n".join([*lines, *more]))]


def policy_disabled_message(vm: VmRef, actor: str) -> Message:
    """The confirmation after JIT was turned off on a VM."""
    text = f":unlock: {mention(actor)} removed {code(vm.name, 80)} from just-in-time access."
    return message(f"JIT disabled on {escape_mrkdwn(vm.name)}.", [section(text)])


def policy_summary(ports: Sequence[PolicyPort]) -> str:
    """The port rules as mrkdwn bullet lines, for confirmations and audits shown to people."""
    return "\n".join(f"• {policy_port_line(p)}" for p in ports)
