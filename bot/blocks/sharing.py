"""Messages about ports shared with others: whose access an approval keeps open or closes, a grant closed by a
newer one (with a one-click re-request), a queued grant, and access opened or closed outside jitbot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.blocks.common import (
    Message,
    actions,
    button,
    code,
    context,
    escape_mrkdwn,
    mention,
    message,
    port_label,
    ports_label,
    section,
    slack_date,
    source_label,
    time_left,
)
from jit.holder_notes import CLOSE, SHARE, HolderNote, read_notes
from jit.model import AccessRequest, HeldPort, HolderView
from jit.request_extras import extras_of

REREQUEST_ACTION = "jit_rerequest"
REREQUEST_BLOCK_ID = "jit_rerequest"


def person(who: str, slack: bool) -> str:
    """A Slack user as a mention; someone outside jitbot (a UPN or an identity) as code."""
    return mention(who) if slack else code(who, 120)


def holder_lines(request: AccessRequest) -> list[str]:
    """For the approval card: whose access approving closes (a warning) and with whom it shares a window."""
    notes = read_notes(extras_of(request).port_holders)
    closing = [n for n in notes if n.effect == CLOSE]
    sharing = [n for n in notes if n.effect == SHARE]
    lines: list[str] = []
    if closing:
        lines.append(
            ":warning: *Approving closes someone else's access.* Azure keeps one source per port, so "
            + "; ".join(_holder(n) for n in closing)
            + f" will lose it when {mention(request.requester)}'s opens from {source_label(request.source)}."
        )
    if sharing:
        lines.append(
            ":link: *Shared window.* Already open from this source for "
            + "; ".join(_holder(n) for n in sharing)
            + ". Approving keeps it open until the later end; each keeps their own end."
        )
    return lines


def _holder(note: HolderNote) -> str:
    return (
        f"{person(note.who, note.slack)} on port {escape_mrkdwn(port_label(note.port))} "
        f"(from {source_label(note.source)}, until {slack_date(note.until)})"
    )


def held_port_lines(held: Sequence[HeldPort], now: datetime) -> list[str]:
    """``• 22 (SSH) until 14:30 (40m left): <@alice> from `203.…`, <@bob>…`` — one line per port someone holds."""
    lines = []
    for port in held:
        people = [_holder_view(h) for h in port.holders]
        hidden = sum(1 for h in port.holders if h.who is None)
        if hidden:
            people = [p for p in people if p] + [f"in use by {hidden} {'person' if hidden == 1 else 'people'}"]
        lines.append(
            f"• {escape_mrkdwn(port_label(port.port))} until {slack_date(port.until)} ({time_left(port.until, now)}): "
            + "; ".join(people)
        )
    return lines


def _holder_view(holder: HolderView) -> str:
    if holder.who is None:
        return ""
    who = "you" if holder.mine else person(holder.who, holder.slack)
    source = f" from {source_label(holder.source)}" if holder.source else ""
    outside = "" if holder.slack else " (outside jitbot)"
    return f"{who}{outside}{source} until {slack_date(holder.until)}"


def shared_line(shared: Sequence[HeldPort]) -> str:
    """For a holder's own grant: who else holds its ports from the same source (each keeps their own end)."""
    names = [
        f"{person(h.who, h.slack)} on {escape_mrkdwn(port_label(p.port))} until {slack_date(h.until)}"
        for p in shared
        for h in p.holders
        if h.who is not None
    ]
    hidden = sum(1 for p in shared for h in p.holders if h.who is None)
    if hidden:
        names.append(f"{hidden} more")
    return f":link: Shared from the same source with {', '.join(names)}." if names else ""


def taken_by(request: AccessRequest) -> str:
    """``<@bob>'s newer grant from `198.51.100.7` (at …)`` — who took this grant's ports."""
    taker = extras_of(request).superseded
    who = taker.by if taker else ""
    source = taker.source if taker else ""
    at = taker.at if taker else ""
    jitbot = bool(taker and taker.request_id)
    if not source:
        when = f" at {slack_date(datetime.fromisoformat(at))}" if at else ""
        return f"a change made outside jitbot (Azure shows the window closed{when})"
    by = f"{person(who, jitbot)}'s newer grant" if who else "a newer grant"
    if not jitbot and who:
        by += " (made outside jitbot)"
    where = f" from {source_label(source)}" if source else ""
    when = f" at {slack_date(datetime.fromisoformat(at))}" if at else ""
    return f"{by}{where}{when}"


def superseded_line(request: AccessRequest) -> str:
    """The card's outcome for a grant every port of which a newer grant took."""
    return (
        f":twisted_rightwards_arrows: *Closed by a newer grant*: {taken_by(request)}. Azure keeps one source per port."
    )


def lost_ports_line(request: AccessRequest) -> str:
    """For an active grant that lost some ports: which closed, which stay open."""
    if not request.lost_ports:
        return ""
    still = ports_label(request.open_ports)
    return (
        f":twisted_rightwards_arrows: Port {escape_mrkdwn(ports_label(request.lost_ports))} was closed by "
        f"{taken_by(request)}; {escape_mrkdwn(still)} stays open."
    )


def queued_line(request: AccessRequest) -> str:
    """For an approved grant waiting for its port (rule ``on_conflict: queue``)."""
    until = extras_of(request).queued_until
    when = slack_date(until) if until else "it is free"
    return (
        f":hourglass_flowing_sand: *Waiting for the port*: it is in use from another source until {when}; "
        "access opens then."
    )


def rerequest_button(request: AccessRequest) -> Block:
    """One click asks for the same access again (it needs approval like any request)."""
    return actions(
        button("Ask again", REREQUEST_ACTION, request.id, "primary"), block_id=f"{REREQUEST_BLOCK_ID}:{request.id}"
    )


def superseded_notice(request: AccessRequest, *, oncall: bool = False) -> Message:
    """A grant lost every port to a newer grant: the holder (with "Ask again") or on-call."""
    lead = f"{mention(request.requester)}'s access" if oncall else "Your access"
    text = (
        f":twisted_rightwards_arrows: {lead} to {escape_mrkdwn(ports_label(request.ports))} on "
        f"{code(request.vm.name, 80)} was closed by {taken_by(request)}. Azure keeps one source per port, so the "
        "newer grant replaced this one; its reminder and end notice are cancelled."
    )
    blocks: list[Block] = [section(text)]
    if not oncall:
        blocks.append(rerequest_button(request))
    blocks.append(context(f"Request {code(request.id)}"))
    return message(f"Access to {escape_mrkdwn(request.vm.name)} was closed by a newer grant.", blocks)


def lost_ports_notice(request: AccessRequest) -> Message:
    """A grant lost some of its ports: the holder is told which closed and which stay open."""
    until = slack_date(request.ends_at) if request.ends_at else "the end of the window"
    text = f"{lost_ports_line(request)} Your access to {code(request.vm.name, 80)} on the rest lasts until {until}."
    return message(
        f"Part of your access to {escape_mrkdwn(request.vm.name)} was closed by a newer grant.",
        [section(text), rerequest_button(request), context(f"Request {code(request.id)}")],
    )


def queued_notice(request: AccessRequest) -> Message:
    """The requester's DM: approved, and waiting for the port."""
    text = (
        f":white_check_mark: Your request {code(request.id)} for {code(request.vm.name, 80)} was approved. "
        f"{queued_line(request)}"
    )
    return message(f"Approved; waiting for the port on {escape_mrkdwn(request.vm.name)}.", [section(text)])


def outside_closed_notice(request: AccessRequest, closed: Sequence[Mapping[str, str]]) -> Message:
    """On-call: a jitbot grant closed access someone had opened outside jitbot (portal, CLI)."""
    items = [
        f"{code(c.get('who', '?'), 120)} on port {escape_mrkdwn(c.get('port', '?'))} from "
        f"{source_label(c.get('source', '?'))}"
        for c in closed
    ]
    text = (
        f":twisted_rightwards_arrows: {mention(request.requester)}'s grant on {code(request.vm.name, 80)} (from "
        f"{source_label(request.source)}) closed access opened outside jitbot: " + "; ".join(items) + "."
    )
    return message(
        f"A jitbot grant on {escape_mrkdwn(request.vm.name)} closed access opened outside jitbot.",
        [
            section(text),
            context(f"Request {code(request.id)}"),
        ],
    )


def outside_access_notice(
    vm_name: str, port: int, requestor: str, source: str, start: datetime, end: datetime
) -> Message:
    """On-call: a port on a VM jitbot watches was opened outside jitbot."""
    text = (
        f":eyes: *Opened outside jitbot*: {code(requestor, 120)} opened port {escape_mrkdwn(port_label(port))} on "
        f"{code(vm_name, 80)} from {source_label(source)} at {slack_date(start)}, until {slack_date(end)} "
        "(Azure's JIT history; the portal, the CLI or another tool)."
    )
    return message(f"Port {port} on {escape_mrkdwn(vm_name)} was opened outside jitbot.", [section(text)])


def closed_outside_line(request: AccessRequest) -> str:
    """The card's outcome for a grant Azure shows closed without jitbot closing it."""
    return (
        ":lock: *Closed outside jitbot*: Azure's history shows this access no longer open "
        f"({escape_mrkdwn(extras_of(request).closed_by_azure or 'closed')})."
    )


def closed_outside_notice(request: AccessRequest) -> Message:
    """The holder: Azure shows their access closed, though jitbot did not close it."""
    text = (
        f":lock: Your access to {escape_mrkdwn(ports_label(request.ports))} on {code(request.vm.name, 80)} is no "
        f"longer open in Azure ({escape_mrkdwn(extras_of(request).closed_by_azure or 'closed')}). "
        "Someone changed it outside jitbot; its reminder and end notice are cancelled."
    )
    return message(
        f"Access to {escape_mrkdwn(request.vm.name)} was closed outside jitbot.",
        [section(text), rerequest_button(request), context(f"Request {code(request.id)}")],
    )
