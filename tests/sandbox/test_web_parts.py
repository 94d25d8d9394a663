"""The sandbox page's building blocks on their own: modal values, the Azure snapshot, the change feed, the clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.arm import ArmEmulator
from sandbox.arm_demo import demo_inventory
from sandbox.slack_state import View
from sandbox.slack_workspace import ADMIN, APPROVER_2, ENGINEER
from sandbox.web.azure_view import RuleActivity, azure_snapshot, vm_status
from sandbox.web.clock import SandboxClock
from sandbox.web.forms import FormError, form_state
from sandbox.web.live import ChangeFeed


def _row(slot: int, number: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "input",
            "block_id": f"port_{slot}_number",
            "label": {"type": "plain_text", "text": "Port"},
            "element": {"type": "plain_text_input", "action_id": "value", "initial_value": number},
        },
        {
            "type": "input",
            "block_id": f"port_{slot}_protocol",
            "label": {"type": "plain_text", "text": "Protocol"},
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": [
                    {"text": {"type": "plain_text", "text": "Any"}, "value": "*"},
                    {"text": {"type": "plain_text", "text": "TCP"}, "value": "TCP"},
                ],
                "initial_option": {"text": {"type": "plain_text", "text": "Any"}, "value": "*"},
            },
        },
        {
            "type": "input",
            "block_id": f"port_{slot}_remove",
            "optional": True,
            "label": {"type": "plain_text", "text": "Remove"},
            "element": {
                "type": "checkboxes",
                "action_id": "value",
                "options": [{"text": {"type": "plain_text", "text": "Remove"}, "value": "remove"}],
            },
        },
    ]


def policy_like_view() -> View:
    """Two port rows that reuse one action id, like the enable-JIT modal, plus a button."""
    blocks = [
        *_row(0, "22"),
        *_row(1, "3389"),
        {
            "type": "actions",
            "block_id": "more",
            "elements": [{"type": "button", "action_id": "add", "text": {"type": "plain_text", "text": "Add"}}],
        },
    ]
    content = {"type": "modal", "title": {"type": "plain_text", "text": "Enable JIT"}, "blocks": blocks}
    return View("V1", "U1", content, "h", "V1")


def test_form_state_keeps_rows_apart_and_fills_initial_values() -> None:
    state = form_state(
        policy_like_view(),
        {
            "port_1_number": {"value": "2222"},
            "port_1_protocol": {"value": "TCP"},
            "port_0_remove": {"value": ["remove"]},
        },
    )
    assert state["port_0_number"]["value"] == {"type": "plain_text_input", "value": "22"}
    assert state["port_1_number"]["value"] == {"type": "plain_text_input", "value": "2222"}
    assert state["port_0_protocol"]["value"]["selected_option"]["value"] == "*"
    assert state["port_1_protocol"]["value"]["selected_option"]["value"] == "TCP"
    assert [o["value"] for o in state["port_0_remove"]["value"]["selected_options"]] == ["remove"]
    assert state["port_1_remove"]["value"]["selected_options"] == []
    assert "more" not in state


def test_form_state_sends_an_emptied_text_input_as_null() -> None:
    state = form_state(policy_like_view(), {"port_0_number": {"value": None}})
    assert state["port_0_number"]["value"] == {"type": "plain_text_input", "value": None}


@pytest.mark.parametrize(
    "entered",
    [
        {"port_9_number": {"value": "1"}},
        {"port_0_number": {"other": "1"}},
        {"port_0_number": "22"},
        {"port_0_number": {"value": 22}},
        {"port_0_remove": {"value": [1]}},
    ],
)
def test_form_state_refuses_what_the_view_cannot_hold(entered: dict[str, Any]) -> None:
    with pytest.raises(FormError):
        form_state(policy_like_view(), entered)


def test_vm_status_gives_the_portal_tab_and_why() -> None:
    inventory = demo_inventory(datetime(2026, 1, 1, tzinfo=UTC))
    statuses = {vm.name: vm_status(inventory, vm) for vm in inventory.vms}
    assert statuses["web-01"] == ("configured", None)
    assert statuses["build-01"] == ("not_configured", None)
    assert statuses["legacy-app"] == ("unsupported", "no network security group")
    assert statuses["old-classic"] == ("unsupported", "classic deployment")
    assert statuses["lab-win"] == ("unsupported", "Defender for Servers is off")


def test_azure_snapshot_of_the_demo_world() -> None:
    inventory = demo_inventory(datetime(2026, 1, 1, tzinfo=UTC))
    snapshot = azure_snapshot(ArmEmulator(inventory))
    assert [p["resource_group"] for p in snapshot["policies"]] == ["rg-web", "rg-data"]
    web01 = snapshot["policies"][0]["vms"][0]
    assert web01 == {
        "name": "web-01",
        "ports": [
            {"number": 22, "protocol": "*", "max": "PT3H", "sources": ["*"]},
            {"number": 8080, "protocol": "*", "max": "PT1H", "sources": ["*"]},
        ],
    }
    assert snapshot["policies"][1]["vms"][0]["ports"][0]["sources"] == ["10.0.0.0/8", "203.0.113.0/24"]
    assert snapshot["open_rules"] == []
    starts = [r["start"] for r in snapshot["requests"]]
    assert starts == sorted(starts, reverse=True) and len(starts) == 5
    by_jitbot = [r for r in snapshot["requests"] if r["requested_by"]]
    assert {r["requested_by"] for r in by_jitbot} == {ENGINEER, APPROVER_2, ADMIN}
    web_nsg = next(n for n in snapshot["nsgs"] if n["name"] == "web-nsg")
    assert [r["priority"] for r in web_nsg["rules"]] == sorted(r["priority"] for r in web_nsg["rules"])
    assert any(r["jit"] and r["access"] == "Deny" and r["port"] == "22" for r in web_nsg["rules"])


def test_rule_activity_logs_openings_and_closings_newest_first() -> None:
    activity = RuleActivity(limit=3)
    t0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    rule = {"rule": "r1", "vm": "web-01", "port": 22, "source": "203.0.113.10/32"}
    assert activity.observe([], t0) is False
    assert activity.observe([rule], t0) is True
    assert activity.observe([rule], t0 + timedelta(minutes=1)) is False
    assert activity.observe([], t0 + timedelta(hours=1)) is True
    assert [(c["kind"], c["vm"], c["port"], c["at"]) for c in activity.to_json()] == [
        ("closed", "web-01", 22, "2026-01-01T10:00:00Z"),
        ("opened", "web-01", 22, "2026-01-01T09:00:00Z"),
    ]
    for n in range(3):
        activity.observe([{**rule, "rule": f"x{n}"}], t0)
    assert len(activity.to_json()) == 3


async def test_change_feed_wakes_waiters_and_times_out() -> None:
    feed = ChangeFeed()
    assert await feed.wait_newer(-1, 0.01) == 0
    assert await feed.wait_newer(0, 0.01) == 0
    waiter = asyncio.create_task(feed.wait_newer(0, 5))
    await asyncio.sleep(0)
    feed.bump()
    assert await waiter == 1
    feed.close()
    assert feed.closed and await feed.wait_newer(feed.version, 5) == feed.version


def test_sandbox_clock_runs_and_only_moves_forward() -> None:
    clock = SandboxClock()
    before = datetime.now(UTC)
    clock.advance(timedelta(minutes=30))
    assert clock.offset == timedelta(minutes=30)
    assert clock.now() - before >= timedelta(minutes=30)
    assert clock.now() - datetime.now(UTC) <= timedelta(minutes=30, seconds=1)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.offset == timedelta(minutes=30)
