"""Direct messages and on-call posts about one request: granted, refused, closing soon, closed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.blocks.common import (
    Message,
    actions,
    button,
    code,
    context,
    duration_text,
    escape_mrkdwn,
    fields,
    header,
    mention,
    message,
    ports_command_text,
    ports_label,
    section,
    slack_date,
    source_label,
    time_left,
    user_text,
)
from bot.blocks.request import is_break_glass, outcome_line
from bot.blocks.sharing import closed_outside_notice, queued_notice, superseded_notice
from jit.model import AccessRequest, RequestState, VirtualMachine
from jit.request_extras import extras_of

EXTEND_ACTION = "jit_extend"
REVOKE_ACTION = "jit_revoke"
LIFECYCLE_BLOCK_ID = "jit_lifecycle"


def lifecycle_buttons(request: AccessRequest, *, extend: bool = True) -> Block:
    """Extend / Revoke buttons for an open grant; each carries the request id.

    The block id names the request too: Slack refuses duplicate block ids, and status and Home list several grants.
    """
    elements = [button("Extend", EXTEND_ACTION, request.id, "primary")] if extend else []
    elements.append(button("Close access now", REVOKE_ACTION, request.id, "danger"))
    return actions(*elements, block_id=f"{LIFECYCLE_BLOCK_ID}:{request.id}")


def offers_extend_or_close(message: Message) -> bool:
    """Whether ``message`` carries a grant's Extend or Close button (such posts are remembered, so the buttons
    can be taken away once access has ended; other buttons, such as Ask again, stay)."""
    return any(
        element.get("action_id") in (EXTEND_ACTION, REVOKE_ACTION)
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    )


def _addresses(request: AccessRequest, vm: VirtualMachine | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if vm is not None and (vm.private_ips or vm.public_ips):
        return vm.private_ips, vm.public_ips
    return extras_of(request).private_ips, extras_of(request).public_ips


def _connect_hints(ports: Sequence[int], address: str | None) -> list[str]:
    if address is None:
        return []
    host = f"[{address}]" if ":" in address else address
    hints: list[str] = []
    if 22 in ports:
        hints.append(f"`ssh &lt;user&gt;@{escape_mrkdwn(address)}`")
    if 3389 in ports:
        hints.append(f"Remote Desktop to `{escape_mrkdwn(host)}:3389`")
    if 5985 in ports or 5986 in ports:
        hints.append(f"WinRM to `{escape_mrkdwn(host)}`")
    return hints


def approved_notice(request: AccessRequest, vm: VirtualMachine | None = None) -> Message:
    """The requester's DM once Azure opened the ports: what to connect to, from where, until when."""
    private_ips, public_ips = _addresses(request, vm)
    until = slack_date(request.ends_at) if request.ends_at else "the end of the window"
    pairs = [
        ("VM", f"{code(request.vm.name, 80)} in {code(request.vm.resource_group, 100)}"),
        ("Ports", escape_mrkdwn(ports_label(request.ports))),
        ("Public IP", ", ".join(code(ip, 60) for ip in public_ips) or "_none_"),
        ("Private IP", ", ".join(code(ip, 60) for ip in private_ips) or "_unknown_"),
        ("From", source_label(request.source)),
        ("Until", until),
    ]
    hints = _connect_hints(request.ports, (public_ips or private_ips or (None,))[0])
    blocks: list[Block] = [
        header(f"Access to {request.vm.name} is open"),
        section(outcome_line(request)),
        fields(pairs),
    ]
    if hints:
        blocks.append(section("*Connect*\n" + "\n".join(hints)))
    blocks.append(lifecycle_buttons(request))
    blocks.append(context(f"Request {code(request.id)} · Azure closes the ports on its own at the end."))
    return message(
        f"Access to {escape_mrkdwn(request.vm.name)} ({escape_mrkdwn(ports_label(request.ports))}) is open "
        f"until {until}.",
        blocks,
    )


def denied_notice(request: AccessRequest) -> Message:
    """The requester's DM when an approver said no."""
    who = mention(request.approver) if request.approver else "An approver"
    text = f":no_entry: {who} denied your request {code(request.id)} for {_what(request)}."
    reason = extras_of(request).deny_reason
    if reason:
        text += f"\n*Their reason:* {user_text(reason, 600)}"
    return _simple(text, f"Your request for {escape_mrkdwn(request.vm.name)} was denied.", request)


def failed_notice(request: AccessRequest) -> Message:
    """The requester's DM when Azure refused or failed to open the ports; the request is over."""
    why = user_text(request.failure or "Azure did not say why.", 1500)
    text = (
        f":x: Your request {code(request.id)} for {_what(request)} was approved, but Azure could not open "
        f"access: {why}\nNothing is open. You can try again with `/jit`."
    )
    return _simple(text, f"Access to {escape_mrkdwn(request.vm.name)} failed.", request)


def timed_out_notice(request: AccessRequest) -> Message:
    """The requester's DM when nobody decided in time."""
    text = (
        f":hourglass: Nobody approved your request {code(request.id)} for {_what(request)} in time, so it "
        "timed out. Ask again, or ping an approver."
    )
    return _simple(text, f"Your request for {escape_mrkdwn(request.vm.name)} timed out.", request)


def cancelled_notice(request: AccessRequest) -> Message:
    """The requester's confirmation that a pending request was withdrawn."""
    text = f":leftwards_arrow_with_hook: Request {code(request.id)} for {_what(request)} is cancelled."
    return _simple(text, f"Request {escape_mrkdwn(request.id)} cancelled.", request)


def revoked_notice(request: AccessRequest, *, oncall: bool = False) -> Message:
    """Access was closed early: for the requester, or for on-call naming the requester."""
    lead = f"{mention(request.requester)}'s access" if oncall else "Your access"
    text = f"{lead} to {_what(request)} was closed early. {outcome_line(request)}"
    return _simple(text, f"Access to {escape_mrkdwn(request.vm.name)} was revoked.", request)


def reminder_notice(request: AccessRequest, *, now: datetime, oncall: bool = False) -> Message:
    """Access closes soon: the requester gets Extend and Close buttons; on-call sees who and what."""
    left = time_left(request.ends_at, now) if request.ends_at else "soon"
    until = slack_date(request.ends_at) if request.ends_at else "soon"
    who = f"{mention(request.requester)}'s access" if oncall else "Your access"
    text = f":alarm_clock: {who} to {_what(request)} closes {until} ({left})."
    blocks: list[Block] = [section(text)]
    if oncall:
        blocks.append(lifecycle_buttons(request, extend=False))
    else:
        blocks.append(
            section(
                "Need longer? Press *Extend* or type "
                f"`/jit extend {escape_mrkdwn(request.id)} 1h`. Done already? Close it now."
            )
        )
        blocks.append(lifecycle_buttons(request))
    blocks.append(context(f"Request {code(request.id)}"))
    fallback_who = f"{mention(request.requester)}'s access" if oncall else "Your access"
    return message(
        f"{fallback_who} to {escape_mrkdwn(request.vm.name)} closes in {left.removesuffix(' left')}.", blocks
    )


def expired_notice(request: AccessRequest, *, oncall: bool = False) -> Message:
    """Access has closed at the end of its window: for the requester, or for on-call naming the requester."""
    ended = slack_date(request.ends_at) if request.ends_at else "now"
    who = f"{mention(request.requester)}'s access" if oncall else "Your access"
    text = f":lock: {who} to {_what(request)} ended {ended}."
    again = (
        ""
        if oncall
        else f"\nNeed it again? `/jit {ports_command_text(request.ports)} {escape_mrkdwn(request.vm.name)} "
        f"{duration_text(request.duration).replace(' ', '')}`"
    )
    return _simple(text + again, f"Access to {escape_mrkdwn(request.vm.name)} has ended.", request)


def access_ended_post(request: AccessRequest) -> Message:
    """What a DM or on-call post that offered Extend / Close says once access has ended: how it ended, and no
    buttons (they could only be refused)."""
    blocks: list[Block] = [
        section(outcome_line(request)),
        context(f"Request {code(request.id)} · nothing is open any more, so Extend and Close are gone."),
    ]
    return message(f"Access to {escape_mrkdwn(request.vm.name)} has ended.", blocks)


def outcome_notice(request: AccessRequest, vm: VirtualMachine | None = None) -> Message:
    """The requester's DM for the request's current state (used by ``Notifier.tell_requester``)."""
    state = request.state
    if state is RequestState.ACTIVE:
        return approved_notice(request, vm)
    if state is RequestState.DENIED:
        return denied_notice(request)
    if state is RequestState.FAILED:
        return failed_notice(request)
    if state is RequestState.TIMED_OUT:
        return timed_out_notice(request)
    if state is RequestState.CANCELLED:
        return cancelled_notice(request)
    if state is RequestState.REVOKED and extras_of(request).closed_by_azure:
        return closed_outside_notice(request)
    if state is RequestState.REVOKED:
        return revoked_notice(request)
    if state is RequestState.EXPIRED:
        return expired_notice(request)
    if state is RequestState.SUPERSEDED:
        return superseded_notice(request)
    if state is RequestState.APPROVED and extras_of(request).queued_until:
        return queued_notice(request)
    text = f"Request {code(request.id)} for {_what(request)}: {outcome_line(request)}"
    return _simple(text, f"Update on request {escape_mrkdwn(request.id)}.", request)


def _what(request: AccessRequest) -> str:
    return f"{escape_mrkdwn(ports_label(request.ports))} on {code(request.vm.name, 80)}"


def _simple(text: str, fallback: str, request: AccessRequest) -> Message:
    flag = ":rotating_light: break-glass · " if is_break_glass(request) else ""
    return message(fallback, [section(text), context(f"{flag}Request {code(request.id)}")])
