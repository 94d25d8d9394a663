"""`/jit list`: the Azure portal's three JIT tabs in Slack, paged within Slack's block limit."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.blocks.common import (
    MAX_MESSAGE_BLOCKS,
    Message,
    actions,
    button,
    code,
    context,
    escape_mrkdwn,
    header,
    mention,
    message,
    section,
    slack_date,
)
from bot.blocks.describe import policy_port_line, unsupported_text
from bot.blocks.sharing import held_port_lines
from jit.model import JitSupport, UnsupportedReason, VmJitStatus, VmRef

LIST_TAB_ACTION = "jit_list_tab"
"""Buttons that open a tab. In a block with several of them the id gets a ``:<tab>`` suffix (Slack wants action
ids unique within a block), so register the handler with ``LIST_TAB_ACTION_PATTERN``."""
LIST_TAB_ACTION_PATTERN = re.compile(r"^jit_list_tab(?::[a-z_]+)?$")
LIST_MORE_ACTION = "jit_list_more"
ENABLE_ACTION = "jit_enable"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 40

TAB_TITLES: dict[JitSupport, str] = {
    JitSupport.CONFIGURED: "Configured",
    JitSupport.NOT_CONFIGURED: "Not configured",
    JitSupport.UNSUPPORTED: "Unsupported",
}
_TAB_CODES: dict[JitSupport, str] = {
    JitSupport.CONFIGURED: "c",
    JitSupport.NOT_CONFIGURED: "n",
    JitSupport.UNSUPPORTED: "u",
}
_PAGE_VALUE = re.compile(r"([cnu]):([0-9]{1,6}):([A-Za-z0-9_().*/-]{0,100})", re.ASCII)


@dataclass(frozen=True)
class PageRef:
    """Which tab, filter and offset a `/jit list` page shows; travels in button values."""

    tab: JitSupport
    filter: str | None = None
    offset: int = 0


def encode_page(ref: PageRef) -> str:
    """A compact button value for a page: ``c:20:web``."""
    return f"{_TAB_CODES[ref.tab]}:{max(0, ref.offset)}:{ref.filter or ''}"


def decode_page(value: str) -> PageRef | None:
    """The page a button value names, or None when the value is malformed (tampered with)."""
    match = _PAGE_VALUE.fullmatch(value)
    if match is None:
        return None
    tab = next(t for t, c in _TAB_CODES.items() if c == match.group(1))
    return PageRef(tab, match.group(3) or None, int(match.group(2)))


def matches_filter(status: VmJitStatus, pattern: str | None) -> bool:
    """Whether a VM's name, resource group or region matches the filter (substring, or glob with ``*``)."""
    if not pattern:
        return True
    ref = status.vm.ref
    haystacks = (ref.name.lower(), ref.resource_group.lower(), ref.location.lower())
    needle = pattern.lower()
    if "*" in needle:
        return any(fnmatch.fnmatchcase(h, needle) for h in haystacks)
    return any(needle in h for h in haystacks)


def select(rows: Sequence[VmJitStatus], tab: JitSupport, pattern: str | None) -> list[VmJitStatus]:
    """The rows of one tab that match the filter, in a stable order (name, resource group, subscription)."""
    chosen = [r for r in rows if r.support is tab and matches_filter(r, pattern)]
    chosen.sort(key=lambda r: (r.vm.ref.name.lower(), r.vm.ref.resource_group.lower(), r.vm.ref.subscription_id))
    return chosen


def tab_counts(rows: Sequence[VmJitStatus], pattern: str | None = None) -> dict[JitSupport, int]:
    """How many VMs each tab holds (after the filter)."""
    counts = dict.fromkeys(JitSupport, 0)
    for row in rows:
        if matches_filter(row, pattern):
            counts[row.support] += 1
    return counts


def _vm_heading(ref: VmRef) -> str:
    return f"*{escape_mrkdwn(ref.name)}* · {code(ref.resource_group, 90)} · {code(ref.location, 40)}"


def _configured_text(row: VmJitStatus, now: datetime) -> str:
    lines = [_vm_heading(row.vm.ref)]
    if row.policy is not None:
        lines += [f"• {policy_port_line(p)}" for p in row.policy.ports[:12]]
        if len(row.policy.ports) > 12:
            lines.append(
                f"• and {len(row.policy.ports) - 12} more ports (`/jit status {escape_mrkdwn(row.vm.ref.name)}`)"
            )
    activity = row.activity
    if activity is not None:
        last = slack_date(activity.last_access) if activity.last_access else "never"
        who = f" by {mention(activity.last_user)}" if activity.last_user else ""
        lines.append(
            f":bar_chart: {activity.approved_last_7_days} approved in the last 7 days · last access {last}{who}"
        )
    else:
        lines.append(":bar_chart: no activity recorded")
    if row.open_now:
        lines.append(":unlock: *Open now*")
        lines += held_port_lines(row.open_now[:6], now)
    return "\n".join(lines)


def _row_block(row: VmJitStatus, is_admin: bool, now: datetime) -> Block:
    if row.support is JitSupport.CONFIGURED:
        return section(_configured_text(row, now))
    if row.support is JitSupport.NOT_CONFIGURED:
        text = f"{_vm_heading(row.vm.ref)}\nSupports JIT but has no policy yet."
        accessory = button("Enable JIT", ENABLE_ACTION, row.vm.ref.id, "primary") if is_admin else None
        return section(text, accessory=accessory)
    return section(f"{_vm_heading(row.vm.ref)}\n{unsupported_text(row.unsupported_reasons, row.policy_denial)}")


def tab_buttons(counts: dict[JitSupport, int], current: JitSupport | None, pattern: str | None) -> Block:
    """One row of buttons switching between the three tabs (action ids ``jit_list_tab:<tab>``)."""
    return actions(
        *(
            button(
                f"{TAB_TITLES[tab]} ({counts[tab]})",
                f"{LIST_TAB_ACTION}:{tab.value}",
                encode_page(PageRef(tab, pattern, 0)),
                "primary" if tab is current else None,
            )
            for tab in JitSupport
        ),
        block_id="jit_list_tabs",
    )


def inventory_message(
    rows: Sequence[VmJitStatus],
    *,
    now: datetime,
    tab: JitSupport | None = None,
    pattern: str | None = None,
    offset: int = 0,
    page_size: int = DEFAULT_PAGE_SIZE,
    is_admin: bool = False,
) -> Message:
    """One page of one tab; a "More" button carries the next page's tab, filter and offset."""
    current = tab or JitSupport.CONFIGURED
    size = max(1, min(page_size, MAX_PAGE_SIZE, MAX_MESSAGE_BLOCKS - 6))
    chosen = select(rows, current, pattern)
    counts = tab_counts(rows, pattern)
    start = max(0, min(offset, len(chosen)))
    page = chosen[start : start + size]
    title = f"JIT VMs: {TAB_TITLES[current]}" + (f" matching “{pattern}”" if pattern else "")
    blocks: list[Block] = [header(title), tab_buttons(counts, current, pattern)]
    if not page:
        blocks.append(section(_empty_text(current, pattern, bool(chosen))))
    blocks += [_row_block(row, is_admin, now) for row in page]
    end = start + len(page)
    if end < len(chosen):
        more = button("More", LIST_MORE_ACTION, encode_page(PageRef(current, pattern, end)))
        blocks.append(section(f"Showing {start + 1}–{end} of {len(chosen)}.", accessory=more))
    elif chosen:
        blocks.append(context(f"Showing {start + 1}–{end} of {len(chosen)}."))
    if current is JitSupport.NOT_CONFIGURED and page and not is_admin:
        blocks.append(context("Only jitbot admins can enable JIT; ask one of them."))
    return message(
        f"{TAB_TITLES[current]}: {len(chosen)} VMs" + (f" matching {escape_mrkdwn(pattern)}" if pattern else ""),
        blocks,
    )


def _empty_text(tab: JitSupport, pattern: str | None, past_end: bool) -> str:
    if past_end:
        return "No more VMs on this tab."
    match = f" matching {code(pattern, 100)}" if pattern else ""
    if tab is JitSupport.CONFIGURED:
        return f"No VMs{match} have JIT configured yet. See the *Not configured* tab."
    if tab is JitSupport.NOT_CONFIGURED:
        return f"No VMs{match} are waiting for JIT: every supported VM is configured."
    return f"No VMs{match} are unsupported."


def requirements_missing(vm: VmRef, reasons: Sequence[UnsupportedReason]) -> Message:
    """Why `/jit enable` cannot proceed on this VM, and what to fix first."""
    text = f":construction: JIT cannot be enabled on {code(vm.name, 80)} yet:\n{unsupported_text(reasons)}"
    return message(f"JIT cannot be enabled on {escape_mrkdwn(vm.name)} yet.", [section(text)])
