"""How "JIT disabled by Azure Policy" reads in Slack: the Unsupported tab, `/jit status`, the modal and the error."""

from __future__ import annotations

from bot.blocks.describe import UNSUPPORTED_EXPLANATIONS, policy_denial_notice, unsupported_text
from bot.blocks.inventory import inventory_message
from bot.blocks.policy_modal import policy_modal
from bot.blocks.status import vm_status
from bot.handlers.errors import message_for
from jit.model import JitSupport, PolicyDenial, UnsupportedReason, VirtualMachine, VmJitStatus
from jit.ports.azure_errors import JitDeniedByPolicy
from tests.bot.blocks_support import (
    HOSTILE,
    NOW,
    all_text,
    assert_literal,
    check_message,
    check_view,
    texts,
    vm_ref,
)

VAULT = vm_ref("vault-01", "rg-data", "northeurope")
ASSIGNMENT = "Locked-down VMs: no just-in-time access"
DENIAL = PolicyDenial(
    VAULT.id, ASSIGNMENT, "/subscriptions/x/providers/Microsoft.Authorization/policyAssignments/a", NOW
)
ROW = VmJitStatus(
    VirtualMachine(VAULT), JitSupport.UNSUPPORTED, (UnsupportedReason.DISABLED_BY_POLICY,), policy_denial=DENIAL
)


def test_every_reason_has_an_explanation_and_a_fix() -> None:
    assert set(UNSUPPORTED_EXPLANATIONS) == set(UnsupportedReason)


def test_the_unsupported_tab_names_the_assignment_when_and_the_fix() -> None:
    page = inventory_message([ROW], now=NOW, tab=JitSupport.UNSUPPORTED, is_admin=True)
    check_message(page)
    text = all_text(page)
    assert "vault-01" in text and "Unsupported (1)" in text
    assert f"JIT is disabled by Azure Policy: the Azure Policy assignment `{ASSIGNMENT}` refused it" in text
    assert f"<!date^{int(NOW.timestamp())}^" in text
    assert "exemption covering the VM or its resource group" in text and "`/jit enable`" in text


def test_without_the_remembered_details_the_reason_still_reads_plainly() -> None:
    text = unsupported_text((UnsupportedReason.NO_NSG, UnsupportedReason.DISABLED_BY_POLICY))
    assert text.count("• ") == 2 and "a policy assignment refused it" in text
    unnamed = unsupported_text((UnsupportedReason.DISABLED_BY_POLICY,), PolicyDenial(VAULT.id, "", None, NOW))
    assert "an Azure Policy assignment refused it" in unnamed


def test_status_of_a_denied_vm_explains_it() -> None:
    status = vm_status(ROW, [], now=NOW)
    check_message(status)
    assert "JIT cannot be used on this VM" in all_text(status) and ASSIGNMENT in all_text(status)


def test_the_policy_modal_warns_that_azure_refused_last_time() -> None:
    view = policy_modal(VAULT, notice=policy_denial_notice(DENIAL))
    check_view(view)
    shown = "\n".join(texts(view["blocks"]))
    assert f"`{ASSIGNMENT}` refused JIT on this VM" in shown and "Save will work" in shown
    assert "refused JIT" not in "\n".join(texts(policy_modal(VAULT)["blocks"]))


def test_a_hostile_assignment_name_stays_literal_everywhere() -> None:
    hostile = PolicyDenial(VAULT.id, HOSTILE, None, NOW)
    row = VmJitStatus(
        VirtualMachine(VAULT), JitSupport.UNSUPPORTED, (UnsupportedReason.DISABLED_BY_POLICY,), policy_denial=hostile
    )
    page = inventory_message([row], now=NOW, tab=JitSupport.UNSUPPORTED)
    assert_literal("\n".join(texts(page.blocks)))
    assert_literal("\n".join(texts(policy_modal(VAULT, notice=policy_denial_notice(hostile))["blocks"])))
    refusal = message_for(JitDeniedByPolicy(HOSTILE))
    check_message(refusal)
    assert_literal(all_text(refusal))


def test_the_refusal_tells_the_admin_who_can_fix_it() -> None:
    text = all_text(message_for(JitDeniedByPolicy(ASSIGNMENT)))
    assert f"the Azure Policy assignment `{ASSIGNMENT}` does not allow just-in-time access" in text
    assert "ask the owner of that assignment for an exemption" in text
