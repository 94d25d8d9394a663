"""The approval card in every state, and the requester's confirmation that the request was sent."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks.card_context import card_context_blocks
from bot.blocks.common import (
    Message,
    actions,
    button,
    channel_link,
    code,
    context,
    duration_text,
    escape_mrkdwn,
    fields,
    header,
    mention,
    message,
    ports_label,
    section,
    slack_date,
    source_label,
    user_text,
    wide_source_flag,
)
from bot.blocks.rbac import requester_rbac_block
from bot.blocks.sharing import closed_outside_line, holder_lines, lost_ports_line, queued_line, superseded_line
from jit.model import AccessRequest, RequestState
from jit.request_extras import extras_of

APPROVE_ACTION = "jit_approve"
DENY_ACTION = "jit_deny"
DECISION_BLOCK_ID = "jit_decision"
REASON_LIMIT = 1500

_STATE_TITLES: dict[RequestState, str] = {
    RequestState.PENDING: "waiting for approval",
    RequestState.APPROVED: "approved, opening access",
    RequestState.ACTIVE: "access open",
    RequestState.EXPIRED: "access ended",
    RequestState.DENIED: "denied",
    RequestState.CANCELLED: "cancelled",
    RequestState.TIMED_OUT: "timed out",
    RequestState.FAILED: "failed",
    RequestState.REVOKED: "access revoked",
    RequestState.SUPERSEDED: "closed by a newer grant",
}


def is_break_glass(request: AccessRequest) -> bool:
    """Whether the request used ``--break-glass`` (announced loudly, reviewed afterwards)."""
    return extras_of(request).break_glass


def approval_card(request: AccessRequest) -> Message:
    """The card approvers see: every fact about the request, the outcome so far, and buttons only while pending."""
    blocks: list[Block] = [header(_title(request))]
    banner = _banner(request)
    if banner:
        blocks.append(section(banner))
    blocks.append(_facts(request))
    blocks.extend(block for block in [requester_rbac_block(request)] if block is not None)
    blocks.append(section(f"*Reason*\n{_reason(request)}"))
    blocks += card_context_blocks(request)
    if request.state in (RequestState.PENDING, RequestState.APPROVED):
        blocks += [section(line) for line in holder_lines(request)]
    quorum = _quorum_line(request)
    if quorum:
        blocks.append(section(quorum))
    blocks.append(section(outcome_line(request)))
    if request.state is RequestState.PENDING:
        blocks.append(
            actions(
                button("Approve", APPROVE_ACTION, request.id, "primary"),
                button("Deny", DENY_ACTION, request.id, "danger"),
                block_id=DECISION_BLOCK_ID,
            )
        )
    blocks.append(context(f"Request {code(request.id)} · requested {slack_date(request.created_at)}"))
    return message(_fallback(request), blocks)


def _title(request: AccessRequest) -> str:
    prefix = "Break-glass access" if is_break_glass(request) else "JIT access request"
    return f"{prefix}: {request.vm.name} ({_STATE_TITLES[request.state]})"


def _banner(request: AccessRequest) -> str:
    lines: list[str] = []
    if is_break_glass(request):
        lines.append(
            ":rotating_light: *Break-glass access.* Granted without waiting for approval; "
            "it is audited and needs a review afterwards."
        )
    rule = (extras_of(request).auto_approved_by or "").strip()
    if rule:
        lines.append(f":robot_face: *Auto-approved* by rule {code(rule, 80)}.")
    wide = wide_source_flag(request.source, extras_of(request).wide_source_prefix)
    if wide:
        lines.append(
            f":warning: *Wide source:* {source_label(request.source)} {wide}. "
            "Approve only if that many addresses really need this port."
        )
    return "\n".join(lines)


def _facts(request: AccessRequest) -> Block:
    vm = request.vm
    return fields(
        [
            ("Requester", mention(request.requester)),
            ("VM", code(vm.name, 80)),
            ("Resource group", code(vm.resource_group, 100)),
            ("Subscription", code(vm.subscription_id, 80)),
            ("Region", code(vm.location, 60)),
            ("Ports", escape_mrkdwn(ports_label(request.ports))),
            ("Source", source_label(request.source) + (" :warning: wide" if _is_wide(request) else "")),
            ("Duration", duration_text(request.duration)),
            ("Requested", slack_date(request.created_at)),
            ("Request id", code(request.id, 80)),
        ]
    )


def _is_wide(request: AccessRequest) -> bool:
    return bool(wide_source_flag(request.source, extras_of(request).wide_source_prefix))


def _reason(request: AccessRequest) -> str:
    if not request.reason.strip():
        return "_No reason given._"
    return "> " + user_text(request.reason, REASON_LIMIT)


def _quorum_line(request: AccessRequest) -> str:
    """Approvals so far, where people's approvals decide: never on break-glass or auto-approved grants, and
    after the decision only when someone approved."""
    extras = extras_of(request)
    needed = extras.quorum
    if extras.break_glass or extras.auto_approved_by:
        return ""
    if request.state is not RequestState.PENDING and not request.approvals:
        return ""
    if needed <= 1 and not (request.state is RequestState.PENDING and request.approvals):
        return ""
    got = list(dict.fromkeys(request.approvals))
    who = ", ".join(mention(u) for u in got) if got else "nobody yet"
    return f"*Approvals:* {len(got)} of {needed} ({who})"


def outcome_line(request: AccessRequest) -> str:
    """One sentence saying where the request stands: who acted, when, and until when access lasts."""
    state = request.state
    approver = mention(request.approver) if request.approver else "an approver"
    decided = f" {slack_date(request.decided_at)}" if request.decided_at else ""
    until = f" until {slack_date(request.ends_at)}" if request.ends_at else ""
    extended = _extended(request)
    if state is RequestState.PENDING:
        return ":hourglass_flowing_sand: *Waiting for approval.*"
    if state is RequestState.APPROVED and extras_of(request).queued_until:
        return f":white_check_mark: *Approved* by {_approved_by(request, approver)}{decided}. {queued_line(request)}"
    if state is RequestState.APPROVED:
        return f":white_check_mark: *Approved* by {_approved_by(request, approver)}{decided}. Opening access in Azure…"
    if state is RequestState.ACTIVE:
        started = f" since {slack_date(request.starts_at)}" if request.starts_at else ""
        lost = f"\n{lost_ports_line(request)}" if request.lost_ports else ""
        return (
            f":unlock: *Access open*{started}{until}. Approved by {_approved_by(request, approver)}{decided}."
            f"{extended}{lost}"
        )
    if state is RequestState.SUPERSEDED:
        return superseded_line(request)
    if state is RequestState.EXPIRED:
        ended = f" at {slack_date(request.ends_at)}" if request.ends_at else ""
        return f":lock: *Access ended*{ended}. It had been approved by {_approved_by(request, approver)}.{extended}"
    if state is RequestState.DENIED:
        return f":no_entry: *Denied* by {approver}{decided}."
    if state is RequestState.CANCELLED:
        return f":leftwards_arrow_with_hook: *Cancelled* by the requester{decided}."
    if state is RequestState.TIMED_OUT:
        return f":hourglass: *Timed out*{decided}: nobody approved it in time."
    if state is RequestState.FAILED:
        why = user_text(request.failure or "Azure did not say why.", 1500)
        return (
            f":x: *Failed*: approved by {_approved_by(request, approver)}{decided}, but Azure could not open "
            f"access. {why}"
        )
    if extras_of(request).closed_by_azure:
        return closed_outside_line(request)
    revoker = extras_of(request).revoked_by or ""
    by = f" by {mention(revoker)}" if revoker else ""
    return f":lock: *Access revoked*{by}{decided}. Connections already open are not cut by Azure.{extended}"


def _approved_by(request: AccessRequest, approver: str) -> str:
    rule = (extras_of(request).auto_approved_by or "").strip()
    if rule:
        return f"rule {code(rule, 80)}"
    if is_break_glass(request) and not request.approver:
        return "break-glass"
    approvals = list(dict.fromkeys(request.approvals))
    if len(approvals) > 1:
        return ", ".join(mention(u) for u in approvals)
    return approver


def _extended(request: AccessRequest) -> str:
    count = extras_of(request).extensions
    if not count:
        return ""
    return f" Extended {count} time{'s' if count != 1 else ''}."


def _fallback(request: AccessRequest) -> str:
    who = mention(request.requester)
    what = f"{ports_label(request.ports)} on {request.vm.name} for {duration_text(request.duration)}"
    flag = "Break-glass: " if is_break_glass(request) else ""
    return f"{flag}{who} requests {escape_mrkdwn(what)}: {_STATE_TITLES[request.state]}"


def requester_confirmation(request: AccessRequest, *, already_pending: bool = False) -> Message:
    """The ephemeral reply to `/jit`: the request id, what was asked, and where it waits for approval."""
    what = (
        f"{escape_mrkdwn(ports_label(request.ports))} on {code(request.vm.name, 80)} "
        f"for {duration_text(request.duration)} from {source_label(request.source)}"
    )
    if already_pending:
        lead = f":repeat: You already have this request waiting: {code(request.id)}."
    elif request.state is RequestState.PENDING:
        lead = f":outbox_tray: Request {code(request.id)} sent to approvers in {channel_link(request.card_channel)}."
    else:
        lead = f"Request {code(request.id)}: {_STATE_TITLES[request.state]}."
    blocks: list[Block] = [section(f"{lead}\n{what}.")]
    wide = wide_source_flag(request.source, extras_of(request).wide_source_prefix)
    if wide and request.state is RequestState.PENDING:
        blocks.append(
            section(
                f":warning: {source_label(request.source)} is a wide range: it {wide}, and approvers see this "
                "warning. If you only need your own address, cancel and ask again with `from <your IP>`."
            )
        )
    footer = _next_step(request)
    if footer:
        blocks.append(context(footer))
    return message(f"Request {escape_mrkdwn(request.id)}: {_STATE_TITLES[request.state]}", blocks)


def _next_step(request: AccessRequest) -> str:
    """What the requester can still do with this request, from its current state; empty once it is over."""
    request_id = escape_mrkdwn(request.id)
    if request.state is RequestState.PENDING:
        return f"I will DM you when it is decided. Changed your mind? `/jit cancel {request_id}`"
    if request.state is RequestState.APPROVED:
        return "Azure is opening access now; I will DM you how to connect."
    if request.state is RequestState.ACTIVE:
        return f"I DM you how to connect. Done early? `/jit revoke {request_id}`"
    return ""


def cancel_reply(request: AccessRequest, *, acted: bool) -> Message:
    """The answer to `/jit cancel`: what this cancel did, read from the request's state now. A repeat or a
    request decided meanwhile is said so, with only what its state still allows."""
    rid = code(request.id)
    decided = f" {slack_date(request.decided_at)}" if request.decided_at else ""
    if acted:
        text = f":leftwards_arrow_with_hook: Request {rid} is cancelled; its approval card says so."
    elif request.state is RequestState.CANCELLED:
        text = f":leftwards_arrow_with_hook: Request {rid} was already cancelled{decided}; there is nothing left to do."
    else:
        text = f"Request {rid} can no longer be cancelled: {outcome_line(request)}"
        step = _next_step(request)
        if step:
            text += f"\n{step}"
    return message(f"Request {escape_mrkdwn(request.id)}: {_STATE_TITLES[request.state]}", [section(text)])
