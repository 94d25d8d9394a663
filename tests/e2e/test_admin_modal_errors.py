"""The policy modal's validation: each mistake is shown inline under the input that holds it, the modal stays
open with what was typed, and nothing is written to Azure until the admin fixes it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import ADMIN
from sandbox.stack import Stack
from tests.e2e.portal_support import policy_entries, running_stack, top_view, view_text, vm_id


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world; lazy listeners finish before it closes."""
    async with running_stack(redis_server.url) as running:
        yield running


CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("prefix too long", {"port_0_sources": "10.0.0.0/33"}, {"port_0_sources": "10.0.0.0/33"}),
    ("not an address", {"port_2_sources": "10.0.0.1, office-vpn"}, {"port_2_sources": "office-vpn"}),
    ("port above 65535", {"port_0_number": "70000"}, {"port_0_number": "out of range"}),
    ("port zero", {"port_3_number": "0"}, {"port_3_number": "out of range"}),
    ("port not a number", {"port_1_number": "ssh"}, {"port_1_number": "not a port number"}),
    ("time under 5 minutes", {"port_0_max": "2m"}, {"port_0_max": "outside 5 minutes to 24 hours"}),
    ("time over 24 hours", {"port_1_max": "25h"}, {"port_1_max": "outside 5 minutes to 24 hours"}),
    ("time not a duration", {"port_2_max": "forever"}, {"port_2_max": "not a duration"}),
    ("duplicate port", {"port_1_number": "22"}, {"port_1_number": "listed twice"}),
    ("duplicate added port", {"extra_ports": "5985 tcp"}, {"extra_ports": "listed twice"}),
    ("bad added port", {"extra_ports": "8080 tcp 10.0.0.0/40"}, {"extra_ports": "Line 1"}),
    ("added port out of range", {"extra_ports": "443\n99999"}, {"extra_ports": "Line 2"}),
    ("everything removed", {f"port_{i}_remove": ["remove"] for i in range(4)}, {"extra_ports": "at least one"}),
    (
        "several at once",
        {"port_0_sources": "300.1.1.1", "port_1_max": "0m", "port_3_number": "3389"},
        {"port_0_sources": "300.1.1.1", "port_1_max": "", "port_3_number": "twice"},
    ),
]


@pytest.mark.parametrize(("values", "expected"), [(v, e) for _, v, e in CASES], ids=[c[0] for c in CASES])
async def test_mistakes_are_shown_on_the_right_input(
    stack: Stack, values: dict[str, Any], expected: dict[str, str]
) -> None:

    assert stack.driver is not None
    before = policy_entries(stack)
    await stack.driver.slash_command(ADMIN, "enable build-01")
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    stack.arm.reset_calls()

    answer = await stack.driver.submit_view(ADMIN, modal, values)

    assert answer.status == 200 and answer.acked_in_time and not answer.rejected
    assert answer.json["response_action"] == "errors"
    assert set(modal.errors) == set(expected)
    for block, words in expected.items():
        assert words in modal.errors[block]
    assert not modal.closed and stack.slack.views_for(ADMIN)[-1] is modal
    assert modal.callback_id == "jit_policy_modal"
    assert stack.arm.writes() == []
    assert policy_entries(stack) == before


async def test_fixing_the_mistake_saves(stack: Stack) -> None:
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "enable db-02")
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    await stack.driver.submit_view(ADMIN, modal, {"port_0_max": "48h", "port_1_number": "22"})
    assert set(modal.errors) == {"port_0_max", "port_1_number"}
    answer = await stack.driver.submit_view(ADMIN, modal, {"port_0_max": "24h", "port_1_number": "2222"})
    assert answer.json["response_action"] == "update"
    await stack.slack.wait_until(lambda: modal.title == "JIT saved")
    assert "2222" in view_text(modal)
    ports = {p["number"]: p for p in json.loads(policy_entries(stack)[vm_id(stack, "db-02")])["ports"]}
    assert sorted(ports) == [22, 2222, 5985, 5986]
    assert ports[22]["maxRequestAccessDuration"] == "P1D"
