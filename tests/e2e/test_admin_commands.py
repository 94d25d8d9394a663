"""`/jit enable|edit|disable` and the Enable JIT button, end to end through the Slack and ARM emulators.

The demo world's ``rg-web`` policy holds web-01, web-02 and bastion-win; ``rg-data`` holds db-01 and
analytics-win. build-01 (subnet NSG) and db-02 (NIC NSG) support JIT without a policy; legacy-app has no NSG.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jit.store.audit import AuditRecord
from sandbox.redis_server import RedisServer
from sandbox.slack_state import View
from sandbox.slack_workspace import ADMIN, APPROVER_1, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, request_card, wait_card_decided
from tests.e2e.portal_support import (
    blocks_text,
    new_ephemeral,
    policy_entries,
    running_stack,
    top_view,
    view_text,
    vm_id,
)


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world; lazy listeners finish before it closes."""
    async with running_stack(redis_server.url) as running:
        yield running


def inputs(view: View) -> dict[str, dict[str, Any]]:
    """The input elements of a modal by block id."""
    return {str(b["block_id"]): b["element"] for b in view.blocks if b.get("type") == "input"}


async def audit(stack: Stack, event: str) -> list[AuditRecord]:
    """Audit records with this event name."""
    return [r async for r in stack.runtime.audit.entries() if r.event == event]


async def wait_title(stack: Stack, view: View, title: str) -> View:
    """The same modal once its title is ``title`` (the lazy listener has filled it in)."""
    return await stack.slack.wait_until(lambda: view if view.title == title else None)


def entry_ports(stack: Stack, vm: str) -> list[dict[str, Any]]:
    """The emulator's policy port rules for ``vm``."""
    entries = {k: json.loads(v) for k, v in policy_entries(stack).items()}
    ports: list[dict[str, Any]] = entries[vm_id(stack, vm)]["ports"]
    return ports


def others_unchanged(before: dict[str, str], after: dict[str, str], changed: str) -> None:
    """Every policy entry except ``changed`` is byte-for-byte what it was."""
    assert {k: v for k, v in before.items() if k != changed} == {k: v for k, v in after.items() if k != changed}


async def test_non_admins_are_refused_politely_and_azure_is_untouched(stack: Stack) -> None:
    assert stack.driver is not None
    before = policy_entries(stack)
    stack.arm.reset_calls()
    for user in (ENGINEER, APPROVER_1):
        for seen, text in enumerate(("enable build-01", "edit web-01", "disable web-02")):
            ack = await stack.driver.slash_command(user, text)
            assert ack.status == 200
            refusal = await new_ephemeral(stack, user, seen)
            assert "Only jitbot admins" in refusal.text
    assert stack.arm.writes() == []
    assert stack.arm.reads() == []
    assert stack.slack.views_for(ENGINEER) == [] and stack.slack.views_for(APPROVER_1) == []
    assert policy_entries(stack) == before
    refused = await audit(stack, "admin_refused")
    assert {(r.actor, r.detail["target"]) for r in refused} == {
        (u, vm) for u in (ENGINEER, APPROVER_1) for vm in ("build-01", "web-01", "web-02")
    }


async def test_enable_prefills_recommended_ports_and_saves_only_that_vm(stack: Stack) -> None:
    assert stack.driver is not None
    before = policy_entries(stack)
    assert vm_id(stack, "build-01") not in before
    stack.arm.reset_calls()
    await stack.driver.slash_command(ADMIN, "enable build-01")
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    fields = inputs(modal)
    assert [fields[f"port_{i}_number"]["initial_value"] for i in range(4)] == ["22", "3389", "5985", "5986"]
    assert {fields[f"port_{i}_max"]["initial_value"] for i in range(4)} == {"3h"}
    assert {fields[f"port_{i}_sources"]["initial_value"] for i in range(4)} == {"*"}
    assert {fields[f"port_{i}_protocol"]["initial_option"]["value"] for i in range(4)} == {"*"}
    assert stack.arm.writes() == []

    answer = await stack.driver.submit_view(
        ADMIN,
        modal,
        {
            "port_0_sources": "10.0.0.0/8, 203.0.113.7",
            "port_0_protocol": "TCP",
            "port_0_max": "1h30m",
            "port_1_remove": ["remove"],
            "extra_ports": "8080 tcp 10.1.0.0/16 2h\n9000",
        },
    )
    assert answer.status == 200 and answer.acked_in_time and not answer.rejected
    done = await wait_title(stack, modal, "JIT saved")
    assert "build-01" in view_text(done) and "8080" in view_text(done)

    after = policy_entries(stack)
    ports = {p["number"]: p for p in entry_ports(stack, "build-01")}
    assert sorted(ports) == [22, 5985, 5986, 8080, 9000]
    assert ports[22]["protocol"] == "TCP" and ports[22]["maxRequestAccessDuration"] == "PT1H30M"
    assert ports[22]["allowedSourceAddressPrefixes"][0] == "10.0.0.0/8"
    assert ports[8080]["protocol"] == "TCP" and ports[8080]["maxRequestAccessDuration"] == "PT2H"
    assert ports[8080]["allowedSourceAddressPrefix"] == "10.1.0.0/16"
    assert ports[9000]["maxRequestAccessDuration"] == "PT3H"
    others_unchanged(before, after, vm_id(stack, "build-01"))
    assert [c.operation for c in stack.arm.writes()] == ["jit.put"]

    records = await audit(stack, "policy_enabled")
    assert len(records) == 1 and records[0].actor == ADMIN
    assert records[0].detail["vm"].lower() == vm_id(stack, "build-01") and records[0].detail["before"] == "[]"
    assert [p["number"] for p in json.loads(records[0].detail["after"])] == [22, 5985, 5986, 8080, 9000]
    dm = await stack.slack.wait_until(lambda: [m for m in stack.slack.dms_with(ADMIN) if "build-01" in m.text])
    assert "saved" in dm[0].text


async def test_edit_changes_one_vm_of_a_shared_policy_and_leaves_the_others_byte_identical(stack: Stack) -> None:
    assert stack.driver is not None
    before = policy_entries(stack)
    web = stack.arm.inventory.policy_covering(stack.arm.inventory.vm("web-01"))
    assert web is not None and len(web.virtual_machines) == 3
    history = json.dumps(web.requests, sort_keys=True)
    await stack.driver.slash_command(ADMIN, "edit web-01")
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    fields = inputs(modal)
    assert [fields["port_0_number"]["initial_value"], fields["port_1_number"]["initial_value"]] == ["22", "8080"]
    assert fields["port_1_max"]["initial_value"] == "1h"
    assert "port_2_number" not in fields

    stack.arm.reset_calls()
    await stack.driver.submit_view(ADMIN, modal, {"port_1_max": "2h", "port_1_sources": "192.0.2.0/24"})
    await wait_title(stack, modal, "JIT saved")

    after = policy_entries(stack)
    changed = vm_id(stack, "web-01")
    others_unchanged(before, after, changed)
    ports = {p["number"]: p for p in entry_ports(stack, "web-01")}
    assert ports[8080]["maxRequestAccessDuration"] == "PT2H"
    assert ports[8080]["allowedSourceAddressPrefix"] == "192.0.2.0/24"
    assert json.loads(before[changed])["ports"][0] == ports[22]
    assert json.dumps(web.requests, sort_keys=True) == history
    assert [c.operation for c in stack.arm.writes()] == ["jit.put"]
    records = await audit(stack, "policy_configured")
    assert len(records) == 1 and records[0].actor == ADMIN
    assert json.loads(records[0].detail["before"])[1]["max"] == "PT1H"
    assert json.loads(records[0].detail["after"])[1]["max"] == "PT2H"


async def test_disable_asks_first_then_removes_only_that_vm(stack: Stack) -> None:
    assert stack.driver is not None
    before = policy_entries(stack)
    stack.arm.reset_calls()
    await stack.driver.slash_command(ADMIN, "disable web-02")
    confirm = await top_view(stack, ADMIN, "jit_disable_modal")
    assert "web-02" in view_text(confirm)
    assert stack.arm.writes() == []

    await stack.driver.submit_view(ADMIN, confirm)
    done = await wait_title(stack, confirm, "JIT disabled")
    assert "web-02" in view_text(done)
    after = policy_entries(stack)
    removed = vm_id(stack, "web-02")
    assert removed in before and removed not in after
    assert {k: v for k, v in before.items() if k != removed} == after
    assert [c.operation for c in stack.arm.writes()] == ["jit.put"]
    records = await audit(stack, "policy_disabled")
    assert len(records) == 1 and records[0].actor == ADMIN and records[0].detail["after"] == "[]"


async def test_disable_warns_about_open_grants_which_stay_open_as_it_says(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)
    await stack.slack.wait_until(lambda: stack.arm.jit.grants or None)

    await driver_of(stack).slash_command(ADMIN, "disable web-01")
    confirm = await top_view(stack, ADMIN, "jit_disable_modal")

    text = view_text(confirm)
    assert "1 port is open on this VM right now." in text and "Disabling JIT does not close it" in text
    assert "22 (SSH) until" in text and f"<@{ENGINEER}> from `203.0.113.10/32`" in text
    await driver_of(stack).submit_view(ADMIN, confirm)
    await wait_title(stack, confirm, "JIT disabled")
    assert [(g.vm_id.lower(), g.number) for g in stack.arm.jit.grants] == [(vm_id(stack, "web-01"), 22)]
    assert (await stack.runtime.store.get(request_id)).state.value == "active"  # type: ignore[union-attr]


async def test_disable_on_a_vm_without_jit_says_there_is_nothing_to_disable(stack: Stack) -> None:
    await driver_of(stack).slash_command(ADMIN, "disable build-01")

    notice = await top_view(stack, ADMIN, "jit_notice_modal")

    assert "JIT is not configured on `build-01`, so there is nothing to disable." in view_text(notice)
    assert "/jit list configured" in view_text(notice)
    assert stack.arm.writes() == []


async def test_disabling_the_last_vm_deletes_the_policy(stack: Stack) -> None:
    assert stack.driver is not None
    data = stack.arm.inventory.policy_covering(stack.arm.inventory.vm("db-01"))
    assert data is not None and len(data.virtual_machines) == 2
    before = policy_entries(stack)
    stack.arm.reset_calls()
    for name in ("rg-data/db-01", "analytics-win"):
        await stack.driver.slash_command(ADMIN, f"disable {name}")
        confirm = await top_view(stack, ADMIN, "jit_disable_modal")
        await stack.driver.submit_view(ADMIN, confirm)
        await wait_title(stack, confirm, "JIT disabled")
    assert [c.operation for c in stack.arm.writes()] == ["jit.put", "jit.delete"]
    assert data not in stack.arm.inventory.policies
    gone = {vm_id(stack, "db-01"), vm_id(stack, "analytics-win")}
    assert policy_entries(stack) == {k: v for k, v in before.items() if k not in gone}


async def test_disable_on_a_vm_without_jit_says_so_and_writes_nothing(stack: Stack) -> None:
    assert stack.driver is not None
    stack.arm.reset_calls()
    await stack.driver.slash_command(ADMIN, "disable build-01")
    notice = await top_view(stack, ADMIN, "jit_notice_modal")
    assert "not configured" in view_text(notice)
    assert stack.arm.writes() == []


async def test_enable_on_an_unsupported_vm_explains_what_is_missing(stack: Stack) -> None:
    assert stack.driver is not None
    stack.arm.reset_calls()
    for name, expected in (
        ("legacy-app", "network security group"),
        ("lab-01", "Defender for Servers"),
        ("old-classic", "classic"),
    ):
        await stack.driver.slash_command(ADMIN, f"enable {name}")
        notice = await top_view(stack, ADMIN, "jit_notice_modal")
        text = view_text(notice)
        assert name in text and expected in text and "Fix:" in text
        stack.slack.state.clear_modals(ADMIN)
    assert stack.arm.writes() == []


async def test_enable_an_unknown_vm_shows_the_lookup_error(stack: Stack) -> None:
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "enable no-such-vm")
    notice = await top_view(stack, ADMIN, "jit_notice_modal")
    assert "no-such-vm" in view_text(notice)


async def test_enable_on_a_configured_vm_opens_its_policy(stack: Stack) -> None:
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "enable bastion-win")
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    fields = inputs(modal)
    assert [fields[f"port_{i}_number"]["initial_value"] for i in range(3)] == ["3389", "5985", "5986"]
    assert fields["port_2_max"]["initial_value"] == "8h"


async def test_the_modal_opens_before_azure_is_asked(stack: Stack) -> None:
    assert stack.driver is not None
    stack.arm.faults.add("jit.list_subscription", delay=1.0)
    await stack.driver.slash_command(ADMIN, "enable db-02")
    working = await top_view(stack, ADMIN, "jit_working_modal")
    assert "db-02" in view_text(working)
    assert (await top_view(stack, ADMIN, "jit_policy_modal")).id == working.id


async def test_enable_button_on_the_not_configured_tab_opens_the_modal(stack: Stack) -> None:
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "list not-configured")
    page = await new_ephemeral(stack, ADMIN, 0)
    values = {b.value for b in page.buttons() if b.action_id == "jit_enable"}
    assert values == {stack.arm.inventory.vm(name).id for name in ("build-01", "db-02", "vault-01")}
    await stack.driver.click(ADMIN, page, "jit_enable", stack.arm.inventory.vm("db-02").id)
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    assert modal.private_metadata == stack.arm.inventory.vm("db-02").id
    await stack.driver.submit_view(ADMIN, modal)
    await wait_title(stack, modal, "JIT saved")
    assert [p["number"] for p in entry_ports(stack, "db-02")] == [22, 3389, 5985, 5986]


async def test_a_forged_enable_click_from_a_non_admin_changes_nothing(stack: Stack) -> None:
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "list not-configured")
    page = await new_ephemeral(stack, ADMIN, 0)
    stack.arm.reset_calls()
    await stack.driver.click(ENGINEER, page, "jit_enable")
    refusal = await new_ephemeral(stack, ENGINEER, 0)
    assert "Only jitbot admins" in blocks_text(refusal.blocks)
    assert stack.arm.reads() == [] and stack.arm.writes() == []
    assert stack.slack.views_for(ENGINEER) == []


async def test_forged_modal_submissions_from_a_non_admin_change_nothing(stack: Stack) -> None:
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "edit web-01")
    policy = await top_view(stack, ADMIN, "jit_policy_modal")
    before = policy_entries(stack)
    stack.arm.reset_calls()
    await stack.driver.submit_view(ENGINEER, policy, {"port_0_sources": "0.0.0.0/0"})
    await wait_title(stack, policy, "JIT not saved")
    assert "Only jitbot admins" in view_text(policy) and "/jit edit web-01" in view_text(policy)
    stack.slack.state.clear_modals(ADMIN)

    await stack.driver.slash_command(ADMIN, "disable web-02")
    confirm = await top_view(stack, ADMIN, "jit_disable_modal")
    await stack.driver.submit_view(ENGINEER, confirm)
    await wait_title(stack, confirm, "JIT not changed")
    assert "/jit disable web-02" in view_text(confirm)
    assert stack.arm.writes() == []
    assert policy_entries(stack) == before
    assert {r.detail["action"] for r in await audit(stack, "admin_refused")} == {"change", "disable"}
