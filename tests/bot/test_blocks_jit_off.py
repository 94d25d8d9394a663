"""The refusal of a request on a VM without JIT gives the next step that works for why JIT is off."""

from __future__ import annotations

import pytest

from bot.blocks.describe import UNSUPPORTED_EXPLANATIONS
from bot.blocks.jit_off import jit_off_message
from bot.handlers.errors import message_for
from jit.errors import JitOff
from jit.model import UnsupportedReason
from tests.bot.blocks_support import all_text, check_message


def test_a_vm_jit_could_protect_points_at_an_admin_and_enable() -> None:
    message = message_for(JitOff("build-01"))
    check_message(message)
    text = all_text(message)
    assert "not configured" in text and "`/jit enable build-01`" in text and "`/jit list configured`" in text


@pytest.mark.parametrize("reason", list(UnsupportedReason))
def test_each_unsupported_reason_names_who_fixes_it_and_how_before_any_enable(reason: UnsupportedReason) -> None:
    message = message_for(JitOff("rg-web/legacy-app", (reason,)))
    check_message(message)
    text = all_text(message)
    remedy = UNSUPPORTED_EXPLANATIONS[reason]
    assert remedy.who in text and remedy.fix in text
    assert "jitbot admins cannot turn it on until this is fixed in Azure" in text
    assert "A jitbot admin can turn it on" not in text
    first, *later = message.blocks
    assert "/jit enable" not in str(first["text"]["text"]).replace(remedy.fix, "")
    assert "Once that is fixed, a jitbot admin can turn JIT on with `/jit enable rg-web/legacy-app`" in str(later)


def test_every_reason_has_its_own_owner() -> None:
    owners = {remedy.who for remedy in UNSUPPORTED_EXPLANATIONS.values()}
    assert "the owner of that Azure Policy assignment" in owners
    assert all(remedy.who and remedy.fix for remedy in UNSUPPORTED_EXPLANATIONS.values())


def test_a_hostile_vm_label_stays_inline_code() -> None:
    text = all_text(jit_off_message("a`b<!channel>", (UnsupportedReason.NO_NSG,)))
    assert "<!channel>" not in text
