"""The refusal of a request on a VM without JIT: the true next step, which depends on why JIT is off."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import Message, code, context, escape_mrkdwn, message, section
from bot.blocks.describe import unsupported_text
from jit.model import UnsupportedReason


def jit_off_message(vm_label: str, reasons: Sequence[UnsupportedReason]) -> Message:
    """Without ``reasons`` a jitbot admin can enable JIT (`/jit enable`), and meanwhile the configured VMs are
    listed; with them Azure cannot protect the VM, so `/jit enable` would refuse: each reason names who outside
    jitbot can fix it and how, and only then may an admin enable it."""
    vm = code(vm_label, 100)
    enable = code(f"/jit enable {vm_label}", 120)
    if not reasons:
        text = (
            f":warning: Just-in-time access is not configured for {vm}. A jitbot admin can turn it on with {enable}; "
            "meanwhile, `/jit list configured` shows the VMs that have it."
        )
        return message(f"Just-in-time access is not configured for {escape_mrkdwn(vm_label)}.", [section(text)])
    text = (
        f":no_entry: Just-in-time access cannot be used on {vm}, and jitbot admins cannot turn it on until this is "
        f"fixed in Azure:\n{unsupported_text(reasons)}"
    )
    after = f"Once that is fixed, a jitbot admin can turn JIT on with {enable}."
    return message(
        f"Just-in-time access cannot be used on {escape_mrkdwn(vm_label)} until its Azure setup is fixed.",
        [section(text), context(after)],
    )
