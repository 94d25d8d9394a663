"""`/jit status`: your pending and active requests, or one VM's policy and what is open on it right now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.blocks.common import (
    MAX_MESSAGE_BLOCKS,
    Message,
    as_utc,
    code,
    context,
    duration_text,
    escape_mrkdwn,
    header,
    message,
    ports_label,
    section,
    slack_date,
    time_left,
)
from bot.blocks.describe import policy_port_line, unsupported_text
from bot.blocks.notices import lifecycle_buttons
from bot.blocks.sharing import held_port_lines, lost_ports_line, shared_line
from jit.model import AccessRequest, HeldPort, JitSupport, RequestState, VmJitStatus

MAX_LISTED = 10


def request_line(request: AccessRequest, now: datetime, shared: Sequence[HeldPort] = ()) -> str:
    """One request in a list: id, ports, VM, and time left or waiting since (and who shares an open window)."""
    what = f"{escape_mrkdwn(ports_label(request.open_ports or request.ports))} on {code(request.vm.name, 80)}"
    if request.state is RequestState.ACTIVE and request.ends_at:
        left = time_left(request.ends_at, now)
        line = f":unlock: {what}: until {slack_date(request.ends_at)} ({left}) · {code(request.id)}"
        extra = [text for text in (lost_ports_line(request), shared_line(shared)) if text]
        return "\n".join([line, *extra])
    if request.state is RequestState.APPROVED:
        return f":gear: {what}: approved, opening in Azure · {code(request.id)}"
    return (
        f":hourglass_flowing_sand: {what} for {duration_text(request.duration)}: waiting since "
        f"{slack_date(request.created_at)} · {code(request.id)}"
    )


def my_status(
    requests: Sequence[AccessRequest], *, now: datetime, shared: Mapping[str, Sequence[HeldPort]] | None = None
) -> Message:
    """The caller's own pending requests and open grants, with Extend / Close buttons on the open ones
    (``shared``: by request id, the other holders of its ports)."""
    active = [r for r in requests if r.state in (RequestState.ACTIVE, RequestState.APPROVED)]
    pending = [r for r in requests if r.state is RequestState.PENDING]
    active.sort(key=lambda r: as_utc(r.ends_at or now))
    pending.sort(key=lambda r: as_utc(r.created_at))
    blocks: list[Block] = [header("Your JIT access")]
    if not active and not pending:
        blocks.append(section("You have no pending requests and no open access. Ask with `/jit ssh web-01 2h why`."))
        return message("You have no pending requests and no open access.", blocks)
    budget = MAX_MESSAGE_BLOCKS - 6
    blocks.append(section(f"*Open access* ({len(active)})" if active else "*Open access*\n_none_"))
    shown_active = active[: min(MAX_LISTED, budget // 2)]
    for request in shown_active:
        blocks.append(section(request_line(request, now, (shared or {}).get(request.id, ()))))
        if request.state is RequestState.ACTIVE:
            blocks.append(lifecycle_buttons(request))
    pending_lines = [request_line(r, now) for r in pending[:MAX_LISTED]]
    blocks.append(section(f"*Waiting for approval* ({len(pending)})\n" + ("\n".join(pending_lines) or "_none_")))
    hidden = len(active) - len(shown_active) + max(0, len(pending) - MAX_LISTED)
    notes = [f"{hidden} more not shown." if hidden else "", "Cancel a pending request with `/jit cancel <id>`."]
    blocks.append(context(*(escape_mrkdwn(n) for n in notes if n)))
    return message(f"You have {len(active)} open and {len(pending)} pending JIT requests.", blocks)


def vm_status(status: VmJitStatus, held: Sequence[HeldPort], *, now: datetime, detailed: bool = False) -> Message:
    """One VM's JIT policy and who holds which port on it now (Azure's history, as jitbot knows it). Who and from
    where are shown to the VM's approvers and admins (``detailed``); others see that a port is in use, until when."""
    vm = status.vm.ref
    blocks: list[Block] = [
        header(f"JIT status: {vm.name}"),
        section(
            f"{code(vm.name, 80)} · resource group {code(vm.resource_group, 100)} · {code(vm.location, 60)} · "
            f"subscription {code(vm.subscription_id, 80)}"
        ),
    ]
    if status.support is JitSupport.CONFIGURED and status.policy is not None:
        lines = [f"• {policy_port_line(p)}" for p in status.policy.ports[:30]]
        blocks.append(section("*Policy*\n" + "\n".join(lines)))
    elif status.support is JitSupport.NOT_CONFIGURED:
        blocks.append(
            section(f"JIT is not configured. An admin can turn it on with `/jit enable {escape_mrkdwn(vm.name)}`.")
        )
    else:
        why = unsupported_text(status.unsupported_reasons, status.policy_denial)
        blocks.append(section("*JIT cannot be used on this VM*\n" + why))
    if held:
        blocks.append(section("*Open now*\n" + "\n".join(held_port_lines(held[:20], now))))
        if not detailed:
            blocks.append(context("Who holds a port, and from where, is shown to this VM's approvers and admins."))
    elif status.support is JitSupport.CONFIGURED:
        blocks.append(section("*Open now*\nNothing: every JIT port is closed."))
    return message(f"JIT status of {escape_mrkdwn(vm.name)}", blocks)
