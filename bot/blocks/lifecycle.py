"""Messages of the access lifecycle: extension cards, reminders and escalations to approvers, break-glass
announcements and their review, and the replies to extend / revoke / review clicks and commands.

Like every builder, these are pure functions of the request (its extras hold the lifecycle's state), so a
repeated call after a crash renders the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

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
    ports_label,
    section,
    slack_date,
    source_label,
    user_text,
)
from bot.blocks.request import APPROVE_ACTION, DENY_ACTION, approval_card, outcome_line
from jit.extensions import extension_ref
from jit.model import AccessRequest, RequestState
from jit.principals import NOBODY, conjuncts
from jit.request_extras import ExtensionState, csv, extras_of

ACK_REVIEW_ACTION = "jit_ack_review"
EXTENSION_DECISION_BLOCK = "jit_extension_decision"
REVIEW_BLOCK = "jit_review"
_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_E = ExtensionState

_EXTENSION_TITLES: dict[ExtensionState, str] = {
    _E.PENDING: "waiting for approval",
    _E.APPROVED: "approved, extending",
    _E.GRANTED: "extended",
    _E.DENIED: "denied",
    _E.TIMED_OUT: "not decided in time",
    _E.FAILED: "failed",
}


def principal(value: str) -> str:
    """A user or user group as a mention that notifies it (``<!subteam^S…>`` for groups); a conjunction of
    several rules as ``(@a and @b)``; anything else literal."""
    parts = conjuncts(value)
    if len(parts) > 1:
        return "(" + " and ".join(principal(part) for part in parts) + ")"
    if _GROUP.fullmatch(value):
        return f"<!subteam^{value}>"
    if value == NOBODY:
        return "_nobody_"
    return mention(value)


def principals(values: Sequence[str]) -> str:
    """Several users and groups, comma separated."""
    return ", ".join(principal(v) for v in values) or "_nobody_"


def _what(request: AccessRequest) -> str:
    return f"{escape_mrkdwn(ports_label(request.ports))} on {code(request.vm.name, 80)}"


def extension_card(request: AccessRequest) -> Message:
    """The approval card for the latest extension of ``request``: buttons only while it waits."""
    ext = extras_of(request).extension
    state = ext.state or _E.PENDING
    pairs = [
        ("Requester", mention(request.requester)),
        ("VM", f"{code(request.vm.name, 80)} in {code(request.vm.resource_group, 100)}"),
        ("Ports", escape_mrkdwn(ports_label(request.ports))),
        ("Source", source_label(request.source)),
        ("Asked for", f"{duration_text(ext.duration)} more, counted from approval"),
        ("Now open until", slack_date(request.ends_at) if request.ends_at else "_unknown_"),
        ("Asked by", mention(ext.by)),
        ("Request id", code(request.id, 80)),
    ]
    blocks: list[Block] = [
        header(f"Extension request: {request.vm.name} ({_EXTENSION_TITLES[state]})"),
        fields(pairs),
        section(f"*Original reason*\n{_reason(request)}"),
    ]
    needed = extras_of(request).quorum
    if needed > 1 or ext.approvals:
        blocks.append(section(_quorum_text(ext.approvals, needed)))
    blocks.append(section(extension_outcome_line(request)))
    if state is _E.PENDING and request.state is RequestState.ACTIVE:
        value = extension_ref(request.id, ext.seq)
        blocks.append(
            actions(
                button("Approve", APPROVE_ACTION, value, "primary"),
                button("Deny", DENY_ACTION, value, "danger"),
                block_id=EXTENSION_DECISION_BLOCK,
            )
        )
    blocks.append(context(f"Extension {ext.seq} of request {code(request.id)}"))
    fallback = f"{mention(request.requester)} asks to extend {escape_mrkdwn(ports_label(request.ports))} on "
    return message(f"{fallback}{escape_mrkdwn(request.vm.name)}: {_EXTENSION_TITLES[state]}", blocks)


def extension_outcome_line(request: AccessRequest) -> str:
    """Where the latest extension stands, in one sentence."""
    ext = extras_of(request).extension
    by = principals(csv(ext.decided_by or "")) if ext.decided_by and not ext.auto_rule else "an approver"
    if ext.auto_rule:
        by = f"rule {code(ext.auto_rule, 80)}"
    if ext.state in (None, _E.PENDING):
        if request.state is not RequestState.ACTIVE:
            return ":lock: The access has ended, so this extension no longer applies."
        return ":hourglass_flowing_sand: *Waiting for approval.*"
    if ext.state is _E.APPROVED:
        return f":white_check_mark: *Approved* by {by}. Extending in Azure…"
    if ext.state is _E.GRANTED:
        until = slack_date(request.ends_at) if request.ends_at else "the new end"
        return f":unlock: *Extended* by {by}: access now open until {until}."
    if ext.state is _E.DENIED:
        return f":no_entry: *Denied* by {by}. Access still ends as planned."
    if ext.state is _E.TIMED_OUT:
        why = user_text(ext.failure, 300) if ext.failure else "Nobody approved it in time."
        return f":hourglass: *Not extended.* {why}"
    why = user_text(ext.failure or "Azure did not say why.", 1000)
    return f":x: *Extension failed*: {why}"


def extension_outcome_notice(request: AccessRequest) -> Message:
    """The requester's DM when an extension was denied, timed out or failed (granted sends the access DM)."""
    text = f"Your extension of {_what(request)} ({code(request.id)}): {extension_outcome_line(request)}"
    if request.state is RequestState.ACTIVE and request.ends_at:
        text += f"\nAccess stays open until {slack_date(request.ends_at)}."
    return message(f"Update on extending {escape_mrkdwn(request.id)}.", [section(text)])


def extension_requested_reply(request: AccessRequest, *, created: bool) -> Message:
    """The ephemeral answer to Extend / `/jit extend`: granted already, sent to approvers, or already waiting."""
    ext = extras_of(request).extension
    if ext.state is _E.GRANTED and created:
        until = slack_date(request.ends_at) if request.ends_at else "the new end"
        text = f":unlock: Extended {_what(request)} until {until} (approved by rule {code(ext.auto_rule or '')})."
    elif ext.state in (_E.FAILED, _E.TIMED_OUT, _E.DENIED):
        text = extension_outcome_line(request)
    elif created:
        text = (
            f":outbox_tray: Asked the approvers to extend {_what(request)} by {duration_text(ext.duration)}. "
            "I will DM you when it is decided."
        )
    else:
        text = f":repeat: An extension of {_what(request)} is already waiting: {extension_outcome_line(request)}"
    hint = context(f"Request {code(request.id)} · `/jit extend {escape_mrkdwn(request.id)} <duration>`")
    return message(f"Extension of {escape_mrkdwn(request.id)}", [section(text), hint])


def approval_recorded_reply(request: AccessRequest) -> Message:
    """The ephemeral answer to an approval that counts toward a quorum (of a request or an extension)."""
    ext = extras_of(request).extension
    if request.state is RequestState.ACTIVE and ext.state is _E.PENDING:
        got, what = ext.approvals, f"the extension of {code(request.id)}"
    else:
        got, what = request.approvals, code(request.id)
    text = (
        f":ballot_box_with_check: Your approval of {what} is recorded. {_quorum_text(got, extras_of(request).quorum)}"
    )
    return message(f"Approval of {escape_mrkdwn(request.id)} recorded.", [section(text)])


def click_reply(request: AccessRequest, *, recorded: bool) -> Message:
    """The answer to an Approve / Deny click that did not decide: an approval counted toward a quorum, or a late
    click on an extension card."""
    if recorded:
        return approval_recorded_reply(request)
    text = f"That extension of {code(request.id)} is no longer waiting. {extension_outcome_line(request)}"
    return message(f"Extension of {escape_mrkdwn(request.id)} already decided.", [section(text)])


def revoke_reply(request: AccessRequest, *, acted: bool, closed: bool) -> Message:
    """The ephemeral answer to Revoke / `/jit revoke`."""
    if not acted:
        text = f"Access {code(request.id)} to {_what(request)} is no longer open. {outcome_line(request)}"
    elif closed:
        text = (
            f":lock: Closed {_what(request)} ({code(request.id)}): the JIT rules are removed from the network "
            "security group. Connections already open are not cut by Azure; end them on the VM if needed."
        )
    else:
        text = (
            f":lock: {code(request.id)} is revoked. Removing its rules in Azure did not work yet; jitbot keeps "
            "retrying and will tell everyone once it is closed."
        )
    return message(f"Revoke {escape_mrkdwn(request.id)}", [section(text)])


def review_reply(request: AccessRequest, *, acted: bool) -> Message:
    """The ephemeral answer to the review button."""
    who = mention(extras_of(request).reviewed_by)
    text = (
        f":white_check_mark: Thanks, your review of break-glass access {code(request.id)} is recorded."
        if acted
        else f"Break-glass access {code(request.id)} was already reviewed by {who}."
    )
    return message(f"Review of {escape_mrkdwn(request.id)}", [section(text)])


def nudge_message(request: AccessRequest, waited: timedelta) -> Message:
    """A reminder in the card's thread that a request still waits, notifying its approvers."""
    needed = extras_of(request).quorum
    progress = f" ({len(request.approvals)} of {needed} approvals so far)" if needed > 1 else ""
    text = (
        f":bell: {principals(extras_of(request).approvers)}: {mention(request.requester)} has waited "
        f"{duration_text(waited)} for {_what(request)}{progress}. Please approve or deny on the card."
    )
    return message(f"Still waiting for approval: {escape_mrkdwn(request.id)}", [section(text)])


def escalation_card(request: AccessRequest, waited: timedelta) -> Message:
    """The approval card, with its buttons, posted where the escalation goes; a banner says why it is here."""
    to = extras_of(request).escalate_to or extras_of(request).approvers
    banner = (
        f":rotating_light: *Escalated* after {duration_text(waited)} without a decision. "
        f"{principals(to)}, please approve or deny."
    )
    if request.state is not RequestState.PENDING:
        banner = ":rotating_light: *Escalated* request, now decided."
    card = approval_card(request)
    rendered = message(card.text, [section(banner)])
    return Message(text=f"Escalated: {card.text}", blocks=rendered.blocks + card.blocks)


def escalation_note(request: AccessRequest, channel: str | None) -> Message:
    """The thread reply on the original card saying where the request was escalated."""
    to = extras_of(request).escalate_to
    where = f" in <#{channel}>" if channel and re.fullmatch(r"[CG][A-Z0-9]{2,}", channel) else ""
    text = f":arrow_up: Escalated to {principals(to) if to else 'more approvers'}{where}."
    return message(f"Request {escape_mrkdwn(request.id)} escalated.", [section(text)])


def break_glass_announcement(request: AccessRequest) -> Message:
    """The loud post to approvers and on-call: who opened what without approval, why, and the review button."""
    reviewer = extras_of(request).reviewed_by
    if request.state is RequestState.FAILED:
        status = f"Azure refused it: {user_text(request.failure or 'no reason given', 500)}"
    elif request.ends_at:
        status = f"Open until {slack_date(request.ends_at)}."
    else:
        status = "Opening now."
    blocks: list[Block] = [
        header(f"Break-glass access to {request.vm.name}"),
        section(
            f":rotating_light: {mention(request.requester)} used *break-glass* to open {_what(request)} from "
            f"{source_label(request.source)} without approval. {status}\n"
            f"*Reason:* {user_text(request.reason, 1500) or '_none given_'}"
        ),
    ]
    if reviewer:
        at = extras_of(request).reviewed_at
        when = f" {slack_date(at)}" if at else ""
        blocks.append(section(f":white_check_mark: Reviewed by {mention(reviewer)}{when}."))
    else:
        within = extras_of(request).review_within(timedelta(hours=1))
        blocks.append(
            section(
                f"An approver must review it within {duration_text(within)}, or it is escalated again. "
                f"Approvers: {principals(extras_of(request).approvers)}"
            )
        )
        blocks.append(
            actions(
                button("I reviewed it", ACK_REVIEW_ACTION, request.id, "primary"),
                block_id=f"{REVIEW_BLOCK}:{request.id}",
            )
        )
    blocks.append(context(f":rotating_light: break-glass · Request {code(request.id)}"))
    return message(f"Break-glass: {mention(request.requester)} opened {escape_mrkdwn(request.vm.name)}", blocks)


def review_overdue_message(request: AccessRequest, round_number: int) -> Message:
    """Nobody reviewed a break-glass grant in time: ask the approvers and the escalation group again. The person
    who used it is never asked (their review would be refused): they are left out of the names, and a group
    that may include them is told that someone else must review."""
    people = [
        p
        for p in dict.fromkeys((*extras_of(request).approvers, *extras_of(request).escalate_to))
        if p != request.requester
    ]
    ask = (
        f"{principals(people)}, please review it (anyone of you but {mention(request.requester)}, who used it)."
        if people
        else f"An approver or jitbot admin other than {mention(request.requester)}, who used it, must review it."
    )
    text = (
        f":rotating_light: *Break-glass access not reviewed* (reminder {round_number}): {mention(request.requester)} "
        f"opened {_what(request)} without approval. {ask}"
    )
    blocks: list[Block] = [
        section(text),
        actions(
            button("I reviewed it", ACK_REVIEW_ACTION, request.id, "primary"),
            block_id=f"{REVIEW_BLOCK}:{request.id}",
        ),
        context(f"Request {code(request.id)}"),
    ]
    return message(f"Break-glass access {escape_mrkdwn(request.id)} still needs a review", blocks)


def _quorum_text(approvals: Sequence[str], needed: int) -> str:
    got = list(dict.fromkeys(approvals))
    who = ", ".join(mention(u) for u in got) if got else "nobody yet"
    return f"*Approvals:* {len(got)} of {needed} ({who})"


def _reason(request: AccessRequest) -> str:
    if not request.reason.strip():
        return "_No reason given._"
    return "> " + user_text(request.reason, 1500)
