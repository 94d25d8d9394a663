"""`/jit status`: your pending and active requests, or one VM's policy and what is open on it right now."""

from __future__ import annotations

from collections.abc import Sequence
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
    source_label,
    time_left,
)
from bot.blocks.describe import policy_port_line, unsupported_text
from bot.blocks.notices import lifecycle_buttons
from jit.model import AccessRequest, GrantedPort, JitSupport, RequestState, VmJitStatus

MAX_LISTED = 10
_CLOSED = frozenset({"revoked", "expired"})


def request_line(request: AccessRequest, now: datetime) -> str:
    """One request in a list: id, ports, VM, and time left or waiting since."""
    what = f"{escape_mrkdwn(ports_label(request.ports))} on {code(request.vm.name, 80)}"
    if request.state is RequestState.ACTIVE and request.ends_at:
        left = time_left(request.ends_at, now)
        return f":unlock: {what}: until {slack_date(request.ends_at)} ({left}) · {code(request.id)}"
    if request.state is RequestState.APPROVED:
        return f":gear: {what}: approved, opening in Azure · {code(request.id)}"
    return (
        f":hourglass_flowing_sand: {what} for {duration_text(request.duration)}: waiting since "
        f"{slack_date(request.created_at)} · {code(request.id)}"
    )


def my_status(requests: Sequence[AccessRequest], *, now: datetime) -> Message:
    """The caller's own pending requests and open grants, with Extend / Close buttons on the open ones."""
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
        blocks.append(section(request_line(request, now)))
        if request.state is RequestState.ACTIVE:
            blocks.append(lifecycle_buttons(request))
    pending_lines = [request_line(r, now) for r in pending[:MAX_LISTED]]
    blocks.append(section(f"*Waiting for approval* ({len(pending)})\n" + ("\n".join(pending_lines) or "_none_")))
    hidden = len(active) - len(shown_active) + max(0, len(pending) - MAX_LISTED)
    notes = [f"{hidden} more not shown." if hidden else "", "Cancel a pending request with `/jit cancel <id>`."]
    blocks.append(context(*(escape_mrkdwn(n) for n in notes if n)))
    return message(f"You have {len(active)} open and {len(pending)} pending JIT requests.", blocks)


def vm_status(status: VmJitStatus, open_ports: Sequence[GrantedPort], *, now: datetime) -> Message:
    """One VM's JIT policy and the ports open on it now (from Azure's request history)."""
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
    current = [p for p in open_ports if as_utc(p.end) > as_utc(now) and p.status.lower() not in _CLOSED]
    if current:
        lines = [
            f"• {escape_mrkdwn(ports_label([p.number]))} from {source_label(p.source)} until {slack_date(p.end)} "
            f"({time_left(p.end, now)})"
            for p in current[:20]
        ]
        blocks.append(section("*Open now*\n" + "\n".join(lines)))
    elif status.support is JitSupport.CONFIGURED:
        blocks.append(section("*Open now*\nNothing: every JIT port is closed."))
    return message(f"JIT status of {escape_mrkdwn(vm.name)}", blocks)
