"""`/jit help`, friendly errors and `/jit status` views."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.blocks.errors import error_message, rate_limited_message, refusal_message, unavailable_message
from bot.blocks.help import help_message
from bot.blocks.notices import EXTEND_ACTION, REVOKE_ACTION
from bot.blocks.status import my_status, vm_status
from bot.grammar import GrammarError, parse_command
from jit.model import (
    HeldPort,
    HolderView,
    JitActivity,
    JitPolicy,
    JitSupport,
    PolicyPort,
    PortProtocol,
    RequestState,
    UnsupportedReason,
    VirtualMachine,
    VmJitStatus,
)
from tests.bot.blocks_support import (
    HOSTILE,
    NOW,
    access_request,
    all_text,
    assert_literal,
    buttons,
    check_message,
    decided,
    vm_ref,
)


def test_help_explains_grammar_examples_and_port_names() -> None:
    message = help_message()
    check_message(message)
    text = all_text(message)
    for piece in ("`/jit &lt;ports&gt; &lt;vm&gt; &lt;duration&gt; [from &lt;ip-or-cidr&gt;] [reason …]`", "`ssh` (22)",
                  "`rdp` (3389)", "`winrm` (5985, 5986)", "`/jit ssh web-01 2h fixing deploy`", "--break-glass",
                  "/jit list", "/jit status", "/jit extend"):  # fmt: skip
        assert piece in text
    assert "<ports>" not in text


def test_help_shows_the_rule_for_a_vm_escaped() -> None:
    message = help_message(rule="Approvers: <!channel> & DBAs, max 1h", topic="db-01")
    text = all_text(message)
    assert "The rule that applies for `db-01`" in text
    assert "Approvers: &lt;!channel&gt; &amp; DBAs, max 1h" in text
    assert "defaults apply" in all_text(help_message(topic="db-01"))


def test_every_help_example_parses() -> None:
    texts = [b["text"]["text"] for b in help_message().blocks if b["type"] == "section"]
    block = next(t for t in texts if t.startswith("*Examples*"))
    examples = [line.strip("`") for line in block.splitlines()[1:]]
    assert len(examples) == 3
    for example in examples:
        parse_command(example.removeprefix("/jit"))


@pytest.mark.parametrize("command", ["ssh web-01", "ssh db 2h from 10.1.2.3/24", "lst", "ssh <!channel> 2h"])
def test_error_message_shows_problem_and_corrected_example(command: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command(command)
    message = error_message(caught.value.problem, caught.value.example)
    check_message(message)
    text = all_text(message)
    assert f"`{caught.value.example}`" in text
    assert caught.value.example in message.text
    assert "<!channel>" not in text


def test_error_message_escapes_hostile_problem_text() -> None:
    message = error_message(f"bad {HOSTILE}", f"/jit ssh web-01 2h {HOSTILE}")
    check_message(message)
    assert_literal(all_text(message))
    assert_literal(message.text)


def test_other_ephemeral_replies_are_valid_and_escaped() -> None:
    for message in (
        refusal_message(f"Only admins can do that {HOSTILE}"),
        rate_limited_message(f"Too many {HOSTILE}"),
    ):
        check_message(message)
        assert_literal(all_text(message))
    unavailable = unavailable_message()
    check_message(unavailable)
    assert "temporarily unavailable" in unavailable.text


def test_my_status_lists_open_grants_with_time_left_and_pending_requests() -> None:
    active = decided(RequestState.ACTIVE, id="jr-active01", ends_at=NOW + timedelta(minutes=50))
    pending = access_request(id="jr-pending1")
    message = my_status([pending, active], now=NOW)
    check_message(message)
    text = all_text(message)
    assert "*Open access* (1)" in text
    assert "50m left" in text
    assert "*Waiting for approval* (1)" in text
    assert "`jr-pending1`" in text
    assert {(b["action_id"], b["value"]) for b in buttons(message.blocks)} == {
        (EXTEND_ACTION, "jr-active01"),
        (REVOKE_ACTION, "jr-active01"),
    }


def test_my_status_when_nothing_is_going_on() -> None:
    message = my_status([], now=NOW)
    check_message(message)
    assert "no pending requests and no open access" in message.text


def test_my_status_with_many_requests_stays_within_fifty_blocks() -> None:
    many = [decided(RequestState.ACTIVE, id=f"jr-a{i:04d}", ends_at=NOW + timedelta(minutes=i + 5)) for i in range(60)]
    many += [access_request(id=f"jr-p{i:04d}") for i in range(60)]
    message = my_status(many, now=NOW)
    check_message(message)
    assert "more not shown" in all_text(message)


def _policy(*ports: PolicyPort) -> JitPolicy:
    ref = vm_ref()
    return JitPolicy(
        id=f"/subscriptions/{ref.subscription_id}/resourceGroups/prod-rg/providers/Microsoft.Security/locations/"
        "westeurope/jitNetworkAccessPolicies/default",
        subscription_id=ref.subscription_id,
        resource_group="prod-rg",
        location="westeurope",
        name="default",
        vm_id=ref.id,
        ports=ports,
    )


def test_vm_status_shows_policy_and_who_holds_which_port_now() -> None:
    policy = _policy(
        PolicyPort(22, PortProtocol.TCP, ("10.0.0.0/8",), timedelta(hours=3)),
        PolicyPort(3389, PortProtocol.ANY, ("*",), timedelta(hours=1)),
    )
    status = VmJitStatus(VirtualMachine(vm_ref()), JitSupport.CONFIGURED, policy=policy,
                         activity=JitActivity(3, NOW, "U0REQUEST1"))  # fmt: skip
    until = NOW + timedelta(minutes=30)
    held = [
        HeldPort(
            22,
            until,
            (
                HolderView(until, "U0REQUEST1", True, "10.1.2.3", request_id="jr-1"),
                HolderView(NOW + timedelta(minutes=10), "carol@contoso.com", False, "10.1.2.3"),
            ),
        )
    ]
    message = vm_status(status, held, now=NOW, detailed=True)
    check_message(message)
    text = all_text(message)
    assert "22 (SSH) · TCP · from `10.0.0.0/8` · up to 3h" in text
    assert "3389 (RDP) · any protocol · from `*` (any address) · up to 1h" in text
    assert "*Open now*\n• 22 (SSH) until" in text
    assert "30m left" in text
    assert "<@U0REQUEST1> from `10.1.2.3`" in text
    assert "`carol@contoso.com` (outside jitbot) from `10.1.2.3`" in text


def test_vm_status_hides_other_peoples_details_from_others() -> None:
    status = VmJitStatus(VirtualMachine(vm_ref()), JitSupport.CONFIGURED, policy=_policy())
    until = NOW + timedelta(minutes=30)
    held = [HeldPort(22, until, (HolderView(until), HolderView(until, "U0ME000001", True, "10.9.9.9", mine=True)))]
    text = all_text(vm_status(status, held, now=NOW, detailed=False))
    assert "in use by 1 person" in text and "you from `10.9.9.9`" in text
    assert "shown to this VM's approvers and admins" in text


def test_vm_status_for_vms_without_jit() -> None:
    bare = vm_status(VmJitStatus(VirtualMachine(vm_ref()), JitSupport.NOT_CONFIGURED), [], now=NOW)
    check_message(bare)
    assert "/jit enable web-01" in all_text(bare)
    unsupported = vm_status(
        VmJitStatus(VirtualMachine(vm_ref()), JitSupport.UNSUPPORTED, (UnsupportedReason.NO_NSG,)), [], now=NOW
    )
    check_message(unsupported)
    assert "network security group" in all_text(unsupported)
    nothing_open = vm_status(
        VmJitStatus(VirtualMachine(vm_ref()), JitSupport.CONFIGURED, policy=_policy()), [], now=NOW
    )
    assert "Nothing: every JIT port is closed." in all_text(nothing_open)


def test_the_rule_names_people_groups_and_channels_as_slack_shows_them() -> None:
    rule = "rule `crown-jewels` (matches U0ENGINE01).\nNeeds one approval from S0APPROVRS, U0APPROV01 in C0APPROVAL."

    text = all_text(help_message(rule=rule, topic="web-01"))

    assert "from <!subteam^S0APPROVRS>, <@U0APPROV01> in <#C0APPROVAL>." in text
    assert "`crown-jewels`" in text and "<@U0ENGINE01>" in text
    assert "<!channel>" not in all_text(help_message(rule="<!channel> S0APPROVRS", topic="web-01"))
