"""The Azure RBAC check's exceptions and extensions, end to end through the real bot and the Slack, Graph and ARM
emulators: the identity map, a rule's own ``requester_rbac``, deny assignments, and the approver check.

The demo tenant (sandbox.rbac_demo): alice (ENGINEER) may request JIT on rg-web through her group, not on rg-data;
the approvers bob and carol are Readers of production, so their own identities may not request JIT there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from jit.requester_access import INITIATE_ACTION
from jit.settings import SettingsError
from sandbox.arm_demo import PROD
from sandbox.arm_inventory import EVERYONE, DenyAssignment, RoleAssignment
from sandbox.entra import EntraUser, object_id
from sandbox.rbac_demo import JIT_VM_ACCESS
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of, ephemeral_reply, request_card, wait_card_decided

RG_DATA = f"/subscriptions/{PROD}/resourceGroups/rg-data"
RG_WEB = f"/subscriptions/{PROD}/resourceGroups/rg-web"
ADMIN_ACCOUNT = "alice.admin@contoso.com"


def card_text(card: object) -> str:
    return str(getattr(card, "text", "")) + " " + str(getattr(card, "blocks", ""))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path


async def audited(stack: Stack, event: str) -> list[dict[str, str]]:
    return [dict(r.detail) async for r in stack.runtime.audit.entries() if r.event == event]


def stack_with(redis_server: RedisServer, env: Mapping[str, str]) -> Stack:
    return Stack(StackOptions(redis_url=redis_server.url, env=dict(env)))


def give_alice_a_separate_admin_account(stack: Stack) -> EntraUser:
    """An Entra ID account whose UPN is not alice's Slack email, holding JIT VM Access on rg-data."""
    inventory = stack.arm.inventory
    admin = EntraUser(ADMIN_ACCOUNT, "Alice (admin account)", None)
    inventory.directory.users.append(admin)
    inventory.role_assignments.append(
        RoleAssignment(object_id(f"assignment:{RG_DATA}:admin"), RG_DATA, JIT_VM_ACCESS, admin.id, "User")
    )
    return admin


# --- JITBOT_IDENTITY_MAP ----------------------------------------------------------------------------------------


async def test_the_identity_map_is_used_before_the_email(redis_server: RedisServer, files: Path) -> None:
    mapping = files / "identity-map.yaml"
    mapping.write_text(f"{ENGINEER}: {ADMIN_ACCOUNT}\n", encoding="utf-8")
    async with stack_with(redis_server, {"JITBOT_IDENTITY_MAP": str(mapping)}) as stack:
        give_alice_a_separate_admin_account(stack)

        card, request_id = await request_card(stack, ENGINEER, "ssh db-01 1h INC-7 vacuum")

        assert "may request JIT access to this VM itself" in card_text(card)
        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.extra["rbac_principal"] == ADMIN_ACCOUNT
        looked_up = [c.path for c in stack.graph.calls if c.operation == "graph.users.get"]
        assert looked_up and looked_up[-1].endswith(ADMIN_ACCOUNT)


async def test_a_map_entry_entra_does_not_know_is_reported_with_the_entry(
    redis_server: RedisServer, files: Path
) -> None:
    mapping = files / "identity-map.yaml"
    mapping.write_text(f"{ENGINEER}: nobody@contoso.com\n", encoding="utf-8")
    async with stack_with(redis_server, {"JITBOT_IDENTITY_MAP": str(mapping)}) as stack:
        card, _ = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")

        shown = card_text(card)
        assert "Could not verify" in shown and "nobody@contoso.com" in shown and "JITBOT_IDENTITY_MAP" in shown


async def test_an_unmapped_person_is_told_the_email_jitbot_looked_for(redis_server: RedisServer) -> None:
    async with stack_with(redis_server, {"JITBOT_REQUESTER_RBAC": "enforce"}) as stack:
        person = stack.slack.workspace.user(ENGINEER)
        assert person is not None
        person.email = "alice.private@example.org"

        response = await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h deploy")

        assert response.status == 200
        reply = await ephemeral_reply(stack, ENGINEER, "could not verify")
        assert "alice.private@example.org" in reply and "JITBOT_IDENTITY_MAP" in reply


async def test_a_broken_identity_map_stops_the_start_naming_its_line(redis_server: RedisServer, files: Path) -> None:
    mapping = files / "identity-map.yaml"
    mapping.write_text(f"{ENGINEER}: {ADMIN_ACCOUNT}\nalice: not-an-id\n", encoding="utf-8")

    with pytest.raises(SettingsError) as refused:
        async with stack_with(redis_server, {"JITBOT_IDENTITY_MAP": str(mapping)}):
            pass

    assert any(f"{mapping}:2:" in problem and "Slack user id" in problem for problem in refused.value.problems)


# --- a rule's requester_rbac ------------------------------------------------------------------------------------


RULES = """
rules:
  - name: data
    match:
      resource_group: rg-data
    requester_rbac: enforce
"""


async def test_a_rule_enforces_on_its_scope_while_elsewhere_only_warns(redis_server: RedisServer, files: Path) -> None:
    rules = files / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    async with stack_with(redis_server, {"JITBOT_RULES_FILE": str(rules)}) as stack:
        response = await driver_of(stack).slash_command(ENGINEER, "ssh db-01 1h INC-7 vacuum")
        assert response.status == 200
        reply = await ephemeral_reply(stack, ENGINEER, "may not request")
        assert INITIATE_ACTION in reply
        assert [r["rbac"] for r in await audited(stack, "request_refused_rbac")] == ["missing"]

        await driver_of(stack).slash_command(ENGINEER, "help db-01")
        await ephemeral_reply(stack, ENGINEER, "refused unless the requester's own Azure role")

        card, _ = await request_card(stack, APPROVER_2, "ssh web-01 1h deploy")
        assert "lacks the permission" in card_text(card), "outside rg-data the default (warn) applies"


# --- deny assignments -------------------------------------------------------------------------------------------


def deny_jit_on_rg_web(stack: Stack, *, exclude: list[tuple[str, str]] | None = None) -> None:
    """A managed-application-style deny assignment on rg-web: everything but reads, for Everyone."""
    stack.arm.inventory.deny_assignments.append(
        DenyAssignment(
            object_id("deny:rg-web"),
            "Managed app lock",
            RG_WEB,
            [{"actions": ["*"], "notActions": ["*/read"]}],
            [EVERYONE],
            exclude or [],
        )
    )


async def test_a_deny_assignment_refuses_what_a_role_grants(redis_server: RedisServer) -> None:
    async with stack_with(redis_server, {"JITBOT_REQUESTER_RBAC": "enforce"}) as stack:
        deny_jit_on_rg_web(stack)

        response = await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h deploy")

        assert response.status == 200
        reply = await ephemeral_reply(stack, ENGINEER, "may not request")
        assert "Managed app lock" in reply and INITIATE_ACTION in reply
        refusals = await audited(stack, "request_refused_rbac")
        assert [r.get("denied_by") for r in refusals] == ["Managed app lock"]
        listed = [c for c in stack.arm.calls if c.operation == "authorization.deny_assignments.list"]
        assert listed and listed[-1].query["$filter"] == "atScope()"


async def test_an_excluded_principal_is_not_denied_and_warn_names_the_deny_assignment(
    redis_server: RedisServer,
) -> None:
    async with stack_with(redis_server, {}) as stack:
        erin = stack.arm.inventory.directory.user("erin@contoso.com")
        assert erin is not None
        deny_jit_on_rg_web(stack, exclude=[(erin.id, "User")])

        flagged, _ = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")
        excluded, _ = await request_card(stack, ONCALL, "ssh web-02 1h deploy")

        assert "Managed app lock" in card_text(flagged) and "deny assignment refuses" in card_text(flagged)
        assert "may request JIT access to this VM itself" in card_text(excluded)


# --- JITBOT_APPROVER_RBAC ---------------------------------------------------------------------------------------


async def test_an_approver_azure_does_not_trust_with_the_vm_is_refused_at_click_time(
    redis_server: RedisServer,
) -> None:
    async with stack_with(redis_server, {"JITBOT_APPROVER_RBAC": "enforce"}) as stack:
        bob = stack.arm.inventory.directory.user("bob@contoso.com")
        assert bob is not None
        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")

        await driver_of(stack).click(APPROVER_2, card, "jit_approve", request_id)
        reply = await ephemeral_reply(stack, APPROVER_2, "cannot approve")

        assert "JITBOT_APPROVER_RBAC" in reply and INITIATE_ACTION in reply and "carol@contoso.com" in reply
        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.state.value == "pending"
        refusals = await audited(stack, "approve_refused_rbac")
        assert len(refusals) == 1 and refusals[0]["principal"] == "carol@contoso.com"
        assert not [c for c in stack.arm.calls if c.operation == "jit.initiate"]

        stack.arm.inventory.role_assignments.append(
            RoleAssignment(object_id(f"assignment:{RG_WEB}:bob"), RG_WEB, JIT_VM_ACCESS, bob.id, "User")
        )
        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        decided = await wait_card_decided(stack, card)
        assert "bob" in card_text(decided).lower() or APPROVER_1 in card_text(decided)
        assert [c for c in stack.arm.calls if c.operation == "jit.initiate"]
        assert [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.ts == card.ts]
