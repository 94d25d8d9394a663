"""Every check that keeps an out-of-policy request away from the approval channel, with its friendly reply."""

from __future__ import annotations

import pytest

from sandbox.arm_inventory import VirtualMachine
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, ephemeral_reply


async def _refused(stack: Stack, text: str, expected: str) -> str:
    response = await driver_of(stack).slash_command(ENGINEER, text)
    assert response.status == 200
    reply = await ephemeral_reply(stack, ENGINEER, expected)
    assert "/jit" in reply, "every refusal shows a corrected example"
    assert not [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.buttons()]
    return reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ssh", "vm"), ("ssh bad_name! 1h", "name"), ("ssh web-01 2x", "duration"), ("list a b", "filter")],
)
async def test_grammar_errors_without_a_vm_to_check_are_answered_in_the_ack(
    stack: Stack, text: str, expected: str
) -> None:
    response = await driver_of(stack).slash_command(ENGINEER, text)
    assert response.status == 200
    assert response.json and response.json.get("response_type") == "ephemeral"
    assert expected.lower() in response.body.lower()
    assert stack.arm.calls == [] or all(c.operation == "token" for c in stack.arm.calls)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssh web-01", "how long"),
        ("ssh web-01 2m", "too short"),
        ("ssh web-01 1h from 10.1.2.3/24", "host bits"),
        ("ssh web-01 1h from not-an-ip", "ip"),
        ("70000 web-01 1h", "port"),
    ],
)
async def test_mistakes_in_a_request_naming_a_vm_are_answered_with_a_suggestion_checked_against_it(
    stack: Stack, text: str, expected: str
) -> None:
    response = await driver_of(stack).slash_command(ENGINEER, text)
    assert (response.status, response.body) == (200, "")
    reply = await ephemeral_reply(stack, ENGINEER, expected)
    assert "/jit ssh web-01" in reply
    assert not [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.buttons()]


async def test_unknown_vm(stack: Stack) -> None:
    await _refused(stack, "ssh nope-01 1h", "no vm")


async def test_ambiguous_vm_lists_every_candidate(stack: Stack) -> None:
    original = stack.arm.inventory.vm("web-01")
    stack.arm.inventory.vms.append(
        VirtualMachine(original.subscription_id, "rg-data", "web-01", "northeurope", nic_nsg="data-nsg")
    )
    reply = await _refused(stack, "ssh web-01 1h", "several vms")
    assert "rg-web" in reply and "rg-data" in reply


async def test_vm_without_jit_points_to_enable(stack: Stack) -> None:
    reply = await _refused(stack, "ssh build-01 1h", "not configured")
    assert "`/jit enable build-01`" in reply


@pytest.mark.parametrize(
    ("vm", "who"),
    [
        ("legacy-app", "whoever manages its network"),
        ("old-classic", "the VM's owner"),
        ("lab-02", "a Security Admin or Owner of the subscription"),
    ],
)
async def test_vm_azure_cannot_protect_names_who_can_fix_it_instead_of_enable(stack: Stack, vm: str, who: str) -> None:
    reply = await _refused(stack, f"ssh {vm} 1h", "cannot be used")
    assert who in reply and "jitbot admins cannot turn it on until this is fixed in Azure" in reply


async def test_port_outside_policy(stack: Stack) -> None:
    reply = await _refused(stack, "rdp web-01 1h", "not in the jit policy")
    assert "22" in reply


async def test_duration_over_port_maximum(stack: Stack) -> None:
    await _refused(stack, "8080 web-01 2h", "at most 1h")


async def test_source_outside_allowed_prefixes(stack: Stack) -> None:
    await _refused(stack, "ssh db-01 1h from 198.51.100.7", "not allowed")


async def test_whole_internet_refused_unless_policy_allows_any(stack: Stack) -> None:
    await _refused(stack, "ssh db-01 1h from 0.0.0.0/0", "whole internet")


async def test_ipv6_source_on_ipv4_policy(stack: Stack) -> None:
    await _refused(stack, "ssh db-01 1h from 2001:db8::1", "not allowed")


async def test_default_source_is_used_when_none_given(stack: Stack) -> None:
    response = await driver_of(stack).slash_command(ENGINEER, "ssh db-01 1h")
    assert response.status == 200
    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: bool(m.buttons()))
    assert "203.0.113.10/32" in str(card.blocks)
