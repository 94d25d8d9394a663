"""The requester's own Azure RBAC (JITBOT_REQUESTER_RBAC), end to end through the real bot and the Slack, Graph and
ARM emulators: the warning approvers see, the enforce refusal, failed lookups, group and inherited assignments,
the cache, and a management-group deployment that finds a VM in a subscription nobody listed.

The demo tenant (sandbox.rbac_demo): alice may request JIT on rg-web through her group, not on rg-data; erin
inherits it on all of production from a management group, through a nested group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from jit.clock import ManualClock
from jit.requester_access import INITIATE_ACTION
from sandbox.arm_demo import PROD
from sandbox.arm_inventory import JitPolicy, NetworkSecurityGroup, Subscription, VirtualMachine
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of, ephemeral_reply, request_card

NEW_SUBSCRIPTION = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e03"


def card_text(card: object) -> str:
    return str(getattr(card, "text", "")) + " " + str(getattr(card, "blocks", ""))


@pytest.fixture
async def enforcing(redis_server: RedisServer) -> AsyncIterator[Stack]:
    options = StackOptions(redis_url=redis_server.url, env={"JITBOT_REQUESTER_RBAC": "enforce"})
    async with Stack(options) as running:
        yield running


async def refused_without_a_card(stack: Stack, user: str, text: str, contains: str) -> str:
    """``user`` types ``/jit text`` and gets an ephemeral refusal containing ``contains``; no card is posted."""
    response = await driver_of(stack).slash_command(user, text)
    assert response.status == 200
    reply = await ephemeral_reply(stack, user, contains)
    assert not [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.buttons()], "no approver was asked"
    return reply


async def rbac_refusals(stack: Stack) -> list[dict[str, str]]:
    return [dict(r.detail) async for r in stack.runtime.audit.entries() if r.event == "request_refused_rbac"]


async def test_warn_shows_approvers_that_the_requesters_identity_lacks_the_permission(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh db-01 1h INC-7 vacuum")

    shown = card_text(card)
    assert "lacks the permission" in shown
    assert INITIATE_ACTION in shown
    assert "alice@contoso.com" in shown
    request = await stack.runtime.store.get(request_id)
    assert request is not None
    assert request.extra["rbac"] == "missing"
    assert request.extra["rbac_missing"] == INITIATE_ACTION


async def test_a_group_based_assignment_lets_the_request_through_unflagged(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")

    shown = card_text(card)
    assert "may request JIT access to this VM itself" in shown
    assert "lacks" not in shown
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.extra["rbac"] == "allowed"
    listed = [c for c in stack.arm.calls if c.operation == "authorization.role_assignments.list"]
    assert listed and "assignedTo(" in listed[-1].query["$filter"]


async def test_an_assignment_inherited_from_a_management_group_counts(stack: Stack) -> None:
    card, request_id = await request_card(stack, ONCALL, "ssh db-01 1h INC-9 disk full")

    assert "may request JIT access to this VM itself" in card_text(card)
    request = await stack.runtime.store.get(request_id)
    assert request is not None
    assert request.extra["rbac"] == "allowed" and request.extra["rbac_principal"] == "erin@contoso.com"


async def test_a_warm_request_makes_no_graph_arm_or_users_info_call(stack: Stack) -> None:
    await request_card(stack, ENGINEER, "ssh web-01 1h first")
    stack.arm.reset_calls()
    stack.graph.reset_calls()
    users_info_before = len(stack.slack.calls_to("users.info"))

    card, _ = await request_card(stack, ENGINEER, "ssh web-01 1h second")

    assert "may request JIT access" in card_text(card)
    assert stack.graph.calls == []
    assert [c for c in stack.arm.calls if c.operation.startswith("authorization.")] == []
    assert len(stack.slack.calls_to("users.info")) == users_info_before


async def test_a_failed_lookup_shows_as_could_not_verify_in_warn(stack: Stack) -> None:
    stack.graph.granted_permissions.clear()

    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")

    shown = card_text(card)
    assert "Could not verify the requester's Azure RBAC" in shown
    assert "User.Read.All" in shown
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.extra["rbac"] == "unverified"


async def test_enforce_refuses_before_any_approver_is_asked_and_audits_it(enforcing: Stack) -> None:
    reply = await refused_without_a_card(enforcing, ENGINEER, "ssh db-01 1h INC-7 vacuum", "may not request")

    assert INITIATE_ACTION in reply
    assert "alice@contoso.com" in reply
    assert "User Access Administrator" in reply and "rg-data" in reply
    refusals = await rbac_refusals(enforcing)
    assert len(refusals) == 1
    assert refusals[0]["rbac"] == "missing" and refusals[0]["missing"] == INITIATE_ACTION
    assert await enforcing.runtime.store.by_requester(ENGINEER) == []


async def test_enforce_lets_a_permitted_requester_through(enforcing: Stack) -> None:
    card, _ = await request_card(enforcing, ENGINEER, "ssh web-01 1h deploy")

    assert "may request JIT access to this VM itself" in card_text(card)
    assert await rbac_refusals(enforcing) == []


async def test_enforce_fails_closed_when_the_lookup_fails(enforcing: Stack) -> None:
    enforcing.graph.granted_permissions.clear()

    reply = await refused_without_a_card(enforcing, ENGINEER, "ssh web-01 1h deploy", "could not verify")

    assert "User.Read.All" in reply
    refusals = await rbac_refusals(enforcing)
    assert [r["rbac"] for r in refusals] == ["unverified"]


def add_production_subscription(stack: Stack) -> VirtualMachine:
    """A subscription created after the bot started, placed under mg-production, with one JIT-enabled VM."""
    inventory = stack.arm.inventory
    inventory.subscriptions.append(Subscription(NEW_SUBSCRIPTION, "Contoso Edge"))
    vm = VirtualMachine(NEW_SUBSCRIPTION, "rg-edge", "edge-01", "westeurope", nic_nsg="edge-nsg", private_ip="10.9.1.4")
    inventory.vms.append(vm)
    inventory.nsgs.append(NetworkSecurityGroup(NEW_SUBSCRIPTION, "rg-edge", "edge-nsg", "westeurope"))
    port = {"number": 22, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}
    inventory.policies.append(
        JitPolicy(NEW_SUBSCRIPTION, "rg-edge", "westeurope", virtual_machines=[{"id": vm.id, "ports": [port]}])
    )
    group = next(g for g in inventory.management_groups if g.id == "mg-production")
    group.subscriptions.append(NEW_SUBSCRIPTION)
    return vm


async def test_a_management_group_deployment_finds_a_vm_in_a_subscription_nobody_listed(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock()
    env = {"AZURE_MANAGEMENT_GROUP": "mg-contoso", "AZURE_SUBSCRIPTION_IDS": PROD}
    async with Stack(StackOptions(redis_url=redis_server.url, clock=clock, env=env)) as stack:
        await request_card(stack, ONCALL, "ssh web-01 1h warm up")
        queries = [c for c in stack.arm.calls if c.operation == "resourcegraph.resources"]
        assert queries and all(c.body["managementGroups"] == ["mg-contoso"] for c in queries)
        vm = add_production_subscription(stack)
        clock.advance(timedelta(seconds=30))

        card, request_id = await request_card(stack, ONCALL, "ssh edge-01 1h new region")

        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.vm.id == vm.id
        assert NEW_SUBSCRIPTION in card_text(card)
        assert "may request JIT access to this VM itself" in card_text(card), "inherited from mg-production"
        assert [c for c in stack.arm.calls if c.operation == "management.descendants"] == [], (
            "Resource Graph takes the management group as its scope: nothing to list"
        )
