"""The App Home tab: your open access, your pending requests, what waits for your approval, and (for admins)
the inventory at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement, ConfirmObject
from slack_sdk.models.views import View

from bot.blocks.common import (
    MAX_VIEW_BLOCKS,
    actions,
    as_utc,
    button,
    code,
    context,
    divider,
    duration_text,
    escape_mrkdwn,
    header,
    mention,
    plain,
    ports_label,
    render,
    section,
    slack_date,
    user_text,
)
from bot.blocks.inventory import LIST_TAB_ACTION, TAB_TITLES, PageRef, encode_page
from bot.blocks.notices import lifecycle_buttons
from bot.blocks.request import APPROVE_ACTION, DENY_ACTION
from bot.blocks.status import request_line
from jit.model import AccessRequest, HeldPort, JitSupport, RequestState

MAX_PER_LIST = 8
CANCEL_ACTION = "jit_cancel"


def home_view(
    *,
    now: datetime,
    active: Sequence[AccessRequest] = (),
    pending: Sequence[AccessRequest] = (),
    awaiting_me: Sequence[AccessRequest] = (),
    counts: Mapping[JitSupport, int] | None = None,
    shared: Mapping[str, Sequence[HeldPort]] | None = None,
) -> dict[str, Any]:
    """The Home tab for one user; ``counts`` is given only for admins, ``shared`` (by request id) the other holders
    of each open grant's ports. Returns the view for views.publish."""
    blocks: list[Block] = [header("Just-in-time VM access")]
    blocks += _active_blocks(active, now, shared or {})
    blocks += _pending_blocks(pending, now)
    blocks += _approval_blocks(awaiting_me)
    if counts is not None:
        blocks += _admin_blocks(counts)
    blocks += [divider(), context("Ask for access with `/jit ssh web-01 2h reason` · `/jit help` for everything.")]
    return View(type="home", blocks=render(blocks, MAX_VIEW_BLOCKS)).to_dict()


def _more(total: int) -> list[Block]:
    if total <= MAX_PER_LIST:
        return []
    return [context(f"and {total - MAX_PER_LIST} more; `/jit status` lists them all.")]


def _active_blocks(
    active: Sequence[AccessRequest], now: datetime, shared: Mapping[str, Sequence[HeldPort]]
) -> list[Block]:
    open_now = sorted(
        (r for r in active if r.state in (RequestState.ACTIVE, RequestState.APPROVED)),
        key=lambda r: as_utc(r.ends_at or now),
    )
    blocks: list[Block] = [divider(), section(f"*Your open access* ({len(open_now)})")]
    if not open_now:
        return [*blocks, context("Nothing open right now.")]
    for request in open_now[:MAX_PER_LIST]:
        blocks.append(section(request_line(request, now, shared.get(request.id, ()))))
        if request.state is RequestState.ACTIVE:
            blocks.append(lifecycle_buttons(request))
    return blocks + _more(len(open_now))


def _pending_blocks(pending: Sequence[AccessRequest], now: datetime) -> list[Block]:
    waiting = sorted((r for r in pending if r.state is RequestState.PENDING), key=lambda r: as_utc(r.created_at))
    blocks: list[Block] = [divider(), section(f"*Your pending requests* ({len(waiting)})")]
    if not waiting:
        return [*blocks, context("No requests waiting.")]
    for request in waiting[:MAX_PER_LIST]:
        blocks.append(section(request_line(request, now), accessory=cancel_button(request)))
    return blocks + _more(len(waiting))


def cancel_button(request: AccessRequest) -> ButtonElement:
    """Withdraw a pending request, after Slack's own "are you sure?" dialog."""
    what = f"{ports_label(request.ports)} on {request.vm.name}"
    confirm = ConfirmObject(
        title=plain("Cancel this request?", 100),
        text=plain(f"Your request {request.id} for {what} will be withdrawn; approvers can no longer approve it.", 300),
        confirm=plain("Cancel request", 30),
        deny=plain("Keep it", 30),
    )
    return ButtonElement(text=plain("Cancel"), action_id=CANCEL_ACTION, value=request.id, confirm=confirm)


def _approval_blocks(awaiting: Sequence[AccessRequest]) -> list[Block]:
    waiting = sorted((r for r in awaiting if r.state is RequestState.PENDING), key=lambda r: as_utc(r.created_at))
    blocks: list[Block] = [divider(), section(f"*Waiting for your approval* ({len(waiting)})")]
    if not waiting:
        return [*blocks, context("Nobody is waiting for you.")]
    for request in waiting[:MAX_PER_LIST]:
        reason = user_text(request.reason, 300) or "_no reason given_"
        blocks.append(
            section(
                f"{mention(request.requester)} wants {escape_mrkdwn(ports_label(request.ports))} on "
                f"{code(request.vm.name, 80)} for {duration_text(request.duration)} · asked "
                f"{slack_date(request.created_at)}\n> {reason}"
            )
        )
        blocks.append(
            actions(
                button("Approve", APPROVE_ACTION, request.id, "primary"),
                button("Deny", DENY_ACTION, request.id, "danger"),
                block_id=f"jit_home_decision_{request.id}"[:255],
            )
        )
    return blocks + _more(len(waiting))


def _admin_blocks(counts: Mapping[JitSupport, int]) -> list[Block]:
    blocks: list[Block] = [divider(), section("*VM inventory* (admins)")]
    for tab in JitSupport:
        target = button("Open", LIST_TAB_ACTION, encode_page(PageRef(tab)))
        blocks.append(section(f"*{TAB_TITLES[tab]}*: {counts.get(tab, 0)} VMs", accessory=target))
    return blocks
