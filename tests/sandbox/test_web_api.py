"""The sandbox page's HTTP API without a browser: state per person, commands, clicks, modals, Home, the clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, timedelta
from typing import Any, TypeVar

import aiohttp
import pytest

from sandbox.redis_server import RedisServer
from sandbox.run import Sandbox, SandboxOptions
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, ENGINEER, ONCALL, ONCALL_CHANNEL
from sandbox.stack import Stack

T = TypeVar("T")
ALICE_DM = "D" + ENGINEER[1:]
DAVE_DM = "D" + ADMIN[1:]


@pytest.fixture
async def sandbox(redis_server: RedisServer) -> AsyncIterator[Sandbox]:
    """The sandbox on a free port and the suite's Redis."""
    async with Sandbox(SandboxOptions(port=0, redis_url=redis_server.url, environ={})) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client, like the page's fetch()."""
    async with aiohttp.ClientSession() as session:
        yield session


def stack_of(sandbox: Sandbox) -> Stack:
    assert sandbox.stack is not None
    return sandbox.stack


async def post(http: aiohttp.ClientSession, sandbox: Sandbox, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(sandbox.url + path.lstrip("/"), json=body) as response:
        return response.status, await response.json()


async def state(http: aiohttp.ClientSession, sandbox: Sandbox, user: str) -> dict[str, Any]:
    async with http.get(sandbox.url + "api/state", params={"user": user}) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def conversation(snapshot: dict[str, Any], channel: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in snapshot["slack"]["conversations"] if c["id"] == channel)
    return found


async def eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Re-run an async probe until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while True:
            result = await probe()
            if result:
                return result
            await asyncio.sleep(0.05)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]


async def request_card(http: aiohttp.ClientSession, sandbox: Sandbox) -> dict[str, Any]:
    status, answer = await post(
        http,
        sandbox,
        "/api/command",
        {"user": ENGINEER, "channel": ALICE_DM, "text": "/jit ssh web-01 1h fixing deploy"},
    )
    assert (status, answer["ok"]) == (200, True)

    async def card() -> dict[str, Any] | None:
        messages = conversation(await state(http, sandbox, APPROVER_1), APPROVAL_CHANNEL)["messages"]
        return next((m for m in messages if any(b["action_id"] == "jit_approve" for b in buttons(m))), None)

    found: dict[str, Any] = await eventually(card)
    return found


async def test_each_person_sees_their_channels_and_the_demo_azure(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    alice = await state(http, sandbox, ENGINEER)
    bob = await state(http, sandbox, APPROVER_1)
    assert [p["name"] for p in alice["slack"]["people"]] == ["alice", "bob", "carol", "dave", "erin"]
    assert {c["id"] for c in alice["slack"]["conversations"]} == {ONCALL_CHANNEL, "C0GENERAL1", ALICE_DM}
    assert APPROVAL_CHANNEL in {c["id"] for c in bob["slack"]["conversations"]}
    assert alice["slack"]["modal"] is None and alice["slack"]["home"] is None
    vms = {vm["name"]: vm for vm in alice["azure"]["vms"]}
    assert (vms["web-01"]["status"], vms["db-02"]["status"]) == ("configured", "not_configured")
    assert vms["legacy-app"]["reason"] == "no network security group"
    assert vms["old-classic"]["reason"] == "classic deployment"
    assert vms["lab-01"]["reason"] == "Defender for Servers is off"
    assert alice["azure"]["open_rules"] == [] and alice["azure"]["activity"] == []
    assert alice["clock"]["can_advance"] is True and alice["clock"]["offset_seconds"] == 0


async def test_command_then_approve_click_updates_card_and_opens_the_nsg_rule(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    card = await request_card(http, sandbox)
    mine = conversation(await state(http, sandbox, ENGINEER), ALICE_DM)["messages"]
    assert [m["ephemeral"] for m in mine] == [True] and "waiting for approval" in mine[0]["text"]
    assert card["at"] is not None and not card["edited"]
    approve = next(b for b in buttons(card) if b["action_id"] == "jit_approve")

    status, answer = await post(
        http,
        sandbox,
        "/api/click",
        {
            "user": APPROVER_1,
            "channel": APPROVAL_CHANNEL,
            "ts": card["ts"],
            "action_id": "jit_approve",
            "value": approve["value"],
        },
    )
    assert (status, answer) == (200, {"ok": True, "status": 200})

    async def opened() -> dict[str, Any] | None:
        snapshot = await state(http, sandbox, APPROVER_1)
        return snapshot if snapshot["azure"]["open_rules"] else None

    snapshot = await eventually(opened)
    [rule] = snapshot["azure"]["open_rules"]
    assert (rule["vm"], rule["port"], rule["source"], rule["nsg"]) == ("web-01", 22, "203.0.113.10/32", "web-nsg")
    assert [(c["kind"], c["vm"], c["port"]) for c in snapshot["azure"]["activity"]] == [("opened", "web-01", 22)]
    assert snapshot["azure"]["requests"][0]["requested_by"] == ENGINEER
    updated = await eventually(
        lambda: _updated_card(http, sandbox, card["ts"]),
    )
    assert updated["edited"] and buttons(updated) == []


async def _updated_card(http: aiohttp.ClientSession, sandbox: Sandbox, ts: str) -> dict[str, Any] | None:
    messages = conversation(await state(http, sandbox, APPROVER_1), APPROVAL_CHANNEL)["messages"]
    card = next(m for m in messages if m["ts"] == ts)
    return card if card["edited"] and not buttons(card) else None


async def test_ephemerals_are_shown_only_to_their_person(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    status, answer = await post(
        http, sandbox, "/api/command", {"user": ENGINEER, "channel": ONCALL_CHANNEL, "text": "/jit help"}
    )
    assert (status, answer["ok"]) == (200, True)
    alice = conversation(await state(http, sandbox, ENGINEER), ONCALL_CHANNEL)["messages"]
    erin = conversation(await state(http, sandbox, ONCALL), ONCALL_CHANNEL)["messages"]
    assert len(alice) == 1 and alice[0]["ephemeral"]
    assert erin == []
    status, answer = await post(
        http,
        sandbox,
        "/api/click",
        {"user": ONCALL, "channel": ONCALL_CHANNEL, "ts": alice[0]["ts"], "action_id": "anything", "value": None},
    )
    assert status == 403 and "someone else" in answer["error"]


async def test_clicks_and_commands_outside_ones_conversations_are_refused(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    card = await request_card(http, sandbox)
    stack = stack_of(sandbox)
    stack.arm.reset_calls()
    status, answer = await post(
        http,
        sandbox,
        "/api/click",
        {"user": ENGINEER, "channel": APPROVAL_CHANNEL, "ts": card["ts"], "action_id": "jit_approve", "value": None},
    )
    assert status == 403 and "not one this user can see" in answer["error"]
    status, answer = await post(
        http, sandbox, "/api/command", {"user": ENGINEER, "channel": DAVE_DM, "text": "/jit help"}
    )
    assert status == 403
    status, answer = await post(
        http, sandbox, "/api/command", {"user": "U0FORMER01", "channel": ALICE_DM, "text": "/jit help"}
    )
    assert status == 400 and "user" in answer["error"]
    assert stack.arm.writes() == []


async def test_only_jit_slash_commands_reach_the_bot(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    stack = stack_of(sandbox)
    before = len(stack.slack.calls)
    status, answer = await post(http, sandbox, "/api/command", {"user": ENGINEER, "channel": ALICE_DM, "text": "hello"})
    assert status == 400 and "/jit" in answer["error"]
    status, answer = await post(
        http, sandbox, "/api/command", {"user": ENGINEER, "channel": ALICE_DM, "text": "/deploy x"}
    )
    assert status == 400 and answer["error"].startswith("/deploy is not a valid command")
    assert len(stack.slack.calls) == before


async def test_posts_must_be_json(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    form = {"user": ENGINEER, "channel": ALICE_DM, "text": "/jit ssh web-01 1h"}
    async with http.post(sandbox.url + "api/command", data=form) as response:
        assert response.status == 415
    async with http.post(
        sandbox.url + "api/command", data="[1]", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
    assert stack_of(sandbox).slack.ephemerals_for(ENGINEER) == []


async def test_enable_modal_shows_inline_errors_then_saves(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    status, answer = await post(
        http, sandbox, "/api/command", {"user": ADMIN, "channel": DAVE_DM, "text": "/jit enable db-02"}
    )
    assert (status, answer["ok"]) == (200, True)

    async def form() -> dict[str, Any] | None:
        modal = (await state(http, sandbox, ADMIN))["slack"]["modal"]
        return modal if modal and modal["submit"] == "Save" else None

    modal = await eventually(form)
    assert (modal["title"], modal["close"]) == ("Enable JIT", "Cancel")
    inputs = {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}
    max_action = inputs["port_0_max"]["action_id"]

    status, answer = await post(
        http,
        sandbox,
        "/api/view/submit",
        {"user": ADMIN, "view_id": modal["id"], "values": {"port_0_max": {max_action: "2m"}}},
    )
    assert (status, answer["ok"]) == (200, True)
    errored = (await state(http, sandbox, ADMIN))["slack"]["modal"]
    assert errored["id"] == modal["id"] and "port_0_max" in errored["errors"]
    assert stack_of(sandbox).arm.writes() == []

    sources = inputs["port_0_sources"]["action_id"]
    removes = {f"port_{i}_remove": {inputs[f"port_{i}_remove"]["action_id"]: ["remove"]} for i in (1, 2, 3)}
    status, answer = await post(
        http,
        sandbox,
        "/api/view/submit",
        {"user": ADMIN, "view_id": modal["id"], "values": {"port_0_sources": {sources: "10.0.0.0/8"}, **removes}},
    )
    assert (status, answer["ok"]) == (200, True)

    async def saved_view() -> dict[str, Any] | None:
        modal = (await state(http, sandbox, ADMIN))["slack"]["modal"]
        return modal if modal and modal["title"] == "JIT saved" else None

    saved = await eventually(saved_view)
    azure = (await state(http, sandbox, ADMIN))["azure"]
    assert next(vm for vm in azure["vms"] if vm["name"] == "db-02")["status"] == "configured"
    [db02] = [vm for p in azure["policies"] for vm in p["vms"] if vm["name"] == "db-02"]
    assert db02["ports"] == [{"number": 22, "protocol": "*", "max": "PT3H", "sources": ["10.0.0.0/8"]}]

    status, answer = await post(http, sandbox, "/api/view/close", {"user": ADMIN, "view_id": saved["id"]})
    assert status == 200
    assert (await state(http, sandbox, ADMIN))["slack"]["modal"] is None


async def test_views_belong_to_their_person(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    await post(http, sandbox, "/api/command", {"user": ADMIN, "channel": DAVE_DM, "text": "/jit enable db-02"})
    stack = stack_of(sandbox)
    views = await stack.slack.wait_until(lambda: stack.slack.views_for(ADMIN))
    status, answer = await post(http, sandbox, "/api/view/submit", {"user": APPROVER_1, "view_id": views[-1].id})
    assert status == 403
    status, answer = await post(http, sandbox, "/api/view/submit", {"user": ADMIN, "view_id": "VNOSUCHVIEW"})
    assert status == 404
    status, answer = await post(
        http, sandbox, "/api/view/submit", {"user": ADMIN, "view_id": views[-1].id, "values": {"nope": {"x": "1"}}}
    )
    assert status == 400 and "nope" in answer["error"]
    assert stack.arm.writes() == []


async def test_opening_home_publishes_it_with_approvals_waiting(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    card = await request_card(http, sandbox)
    status, answer = await post(http, sandbox, "/api/home/open", {"user": APPROVER_1})
    assert (status, answer) == (200, {"ok": True, "status": 200})

    async def home() -> dict[str, Any] | None:
        published: dict[str, Any] | None = (await state(http, sandbox, APPROVER_1))["slack"]["home"]
        return published

    view = await eventually(home)
    assert view["type"] == "home"
    approve = [
        e
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("action_id") == "jit_approve"
    ]
    assert [b["value"] for b in approve] == [next(b["value"] for b in buttons(card) if b["action_id"] == "jit_approve")]
    status, answer = await post(
        http,
        sandbox,
        "/api/view/click",
        {"user": APPROVER_1, "view_id": view["id"], "action_id": "jit_approve", "value": approve[0]["value"]},
    )
    assert (status, answer["ok"]) == (200, True)
    await eventually(lambda: _updated_card(http, sandbox, card["ts"]))


async def test_fast_forward_moves_bot_and_azure_time_and_closes_windows(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    stack = stack_of(sandbox)
    status, answer = await post(http, sandbox, "/api/clock", {"minutes": 0})
    assert status == 400
    status, answer = await post(http, sandbox, "/api/clock", {"minutes": 24 * 60 + 1})
    assert status == 400
    card = await request_card(http, sandbox)
    approve = next(b for b in buttons(card) if b["action_id"] == "jit_approve")
    await post(
        http,
        sandbox,
        "/api/click",
        {
            "user": APPROVER_1,
            "channel": APPROVAL_CHANNEL,
            "ts": card["ts"],
            "action_id": "jit_approve",
            "value": approve["value"],
        },
    )
    await eventually(lambda: _has_open_rule(http, sandbox))
    before = stack.clock.now()

    status, answer = await post(http, sandbox, "/api/clock", {"minutes": 10})
    assert status == 200 and answer["clock"]["offset_seconds"] == 600
    assert (stack.clock.now() - before).total_seconds() >= 600
    assert stack.arm.clock is stack.clock and stack.runtime.clock is stack.clock

    for _ in range(6):
        if not stack.arm.jit.grants:
            break
        status, answer = await post(http, sandbox, "/api/clock", {"to": "next"})
        assert status == 200, answer
        await asyncio.sleep(0.3)
    snapshot = await eventually(lambda: _closed(http, sandbox))
    assert [c["kind"] for c in snapshot["azure"]["activity"]] == ["closed", "opened"]
    dms = conversation(await state(http, sandbox, ENGINEER), ALICE_DM)["messages"]
    assert any("ended" in m["text"] and not m["edited"] for m in dms), "the expiry DM"
    retired = [m for m in dms if m["edited"] and "ended" in m["text"]]
    assert retired and not [b for m in retired for b in m["blocks"] if b["type"] == "actions"], (
        "the access and reminder DMs lost Extend / Close"
    )


async def test_next_event_skips_items_that_would_do_nothing(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    stack = stack_of(sandbox)
    card = await request_card(http, sandbox)
    request_id = next(b["value"] for b in buttons(card) if b["action_id"] == "jit_approve")
    click = {"user": APPROVER_1, "channel": APPROVAL_CHANNEL, "ts": card["ts"], "action_id": "jit_approve"}
    await post(http, sandbox, "/api/click", {**click, "value": request_id})
    await eventually(lambda: _has_open_rule(http, sandbox))
    assert await stack.runtime.schedule.due_at(f"nudge:{request_id}") is None
    remind_at = await stack.runtime.schedule.due_at(f"remind:{request_id}")
    assert remind_at is not None
    await stack.runtime.schedule.add(f"nudge:{request_id}", stack.clock.now() + timedelta(minutes=1))

    clock = (await state(http, sandbox, ENGINEER))["clock"]

    assert clock["next_due"] == remind_at.astimezone(UTC).isoformat()
    status, answer = await post(http, sandbox, "/api/clock", {"to": "next"})
    assert status == 200 and answer["clock"]["offset_seconds"] > 60
    await eventually(
        lambda: _dm_containing(http, sandbox, "closes"),
    )


async def _dm_containing(http: aiohttp.ClientSession, sandbox: Sandbox, text: str) -> bool:
    messages = conversation(await state(http, sandbox, ENGINEER), ALICE_DM)["messages"]
    return any(text in m["text"] for m in messages)


async def _has_open_rule(http: aiohttp.ClientSession, sandbox: Sandbox) -> bool:
    return bool((await state(http, sandbox, ENGINEER))["azure"]["open_rules"])


async def _closed(http: aiohttp.ClientSession, sandbox: Sandbox) -> dict[str, Any] | None:
    snapshot = await state(http, sandbox, ENGINEER)
    ended = any("ended" in m["text"] for m in conversation(snapshot, ALICE_DM)["messages"])
    return snapshot if ended and not snapshot["azure"]["open_rules"] else None


async def test_nothing_scheduled_means_no_jump(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    status, answer = await post(http, sandbox, "/api/clock", {"to": "next"})
    assert (status, answer) == (409, {"ok": False, "error": "nothing is scheduled"})
    clock = (await state(http, sandbox, ENGINEER))["clock"]
    assert (clock["offset_seconds"], clock["next_due"]) == (0, None)


async def test_event_stream_announces_each_change(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    async with http.get(sandbox.url + "api/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = json.loads((await stream.content.readline()).decode().removeprefix("data: "))
        await stream.content.readline()
        await post(http, sandbox, "/api/command", {"user": ENGINEER, "channel": ALICE_DM, "text": "/jit help"})
        async with asyncio.timeout(5):
            line = await stream.content.readline()
        assert json.loads(line.decode().removeprefix("data: "))["version"] > first["version"]


async def test_page_and_static_files_are_served_with_a_strict_policy(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    async with http.get(sandbox.url) as page:
        assert page.status == 200 and page.content_type == "text/html"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert '<script type="module" src="/static/app.js">' in await page.text()
    for name, kind in (("app.js", "text/javascript"), ("blocks.js", "text/javascript"), ("style.css", "text/css")):
        async with http.get(sandbox.url + "static/" + name) as asset:
            assert (asset.status, asset.content_type) == (200, kind)
    for bad in ("static/..%2Fserver.py", "static/server.py", "static/index.html"):
        async with http.get(sandbox.url + bad) as missing:
            assert missing.status == 404


async def test_the_sandbox_shows_the_lifecycle_rules(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """sandbox/demo_rules.yaml: erin (on-call) is auto-approved on rg-web; rg-data wants a ticket and two approvers."""
    erin_dm = "D" + ONCALL[1:]
    status, _ = await post(
        http, sandbox, "/api/command", {"user": ONCALL, "channel": erin_dm, "text": "/jit ssh web-02 30m on call"}
    )
    assert status == 200

    async def auto_approved() -> dict[str, Any] | None:
        messages = conversation(await state(http, sandbox, APPROVER_1), APPROVAL_CHANNEL)["messages"]
        return next((m for m in messages if "prod-web" in json.dumps(m["blocks"])), None)

    card = await eventually(auto_approved)
    assert buttons(card) == [] or all(b["action_id"] != "jit_approve" for b in buttons(card))
    await post(http, sandbox, "/api/command", {"user": ENGINEER, "channel": ALICE_DM, "text": "/jit ssh db-01 1h"})

    async def ticket_refusal() -> bool:
        mine = conversation(await state(http, sandbox, ENGINEER), ALICE_DM)["messages"]
        return any("INC-" in m["text"] + json.dumps(m["blocks"]) for m in mine)

    assert await eventually(ticket_refusal)


async def test_the_sandbox_shows_both_rbac_modes(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """bob (a Reader) is refused on rg-web (rule prod-web enforces); alice's db-01 card warns (default warn)."""
    bob_dm = "D" + APPROVER_1[1:]
    await post(http, sandbox, "/api/command", {"user": APPROVER_1, "channel": bob_dm, "text": "/jit ssh web-01 1h"})

    async def refused() -> bool:
        mine = conversation(await state(http, sandbox, APPROVER_1), bob_dm)["messages"]
        return any("may not request" in m["text"] + json.dumps(m["blocks"]) for m in mine)

    assert await eventually(refused)
    text = "/jit ssh db-01 1h INC-1 vacuum"
    await post(http, sandbox, "/api/command", {"user": ENGINEER, "channel": ALICE_DM, "text": text})

    async def warned() -> dict[str, Any] | None:
        messages = conversation(await state(http, sandbox, APPROVER_1), APPROVAL_CHANNEL)["messages"]
        return next((m for m in messages if "lacks the permission" in json.dumps(m["blocks"])), None)

    assert await eventually(warned)


async def test_someone_using_the_portal_is_reported_by_the_next_sync(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    stack = stack_of(sandbox)

    status, answer = await post(http, sandbox, "/api/azure/portal", {"user": ENGINEER})

    assert status == 200 and answer["person"] == "pat@contoso.com" and answer["vm"] == "web-01"
    policy = stack.arm.inventory.policy_covering(stack.arm.inventory.vm("web-01"))
    assert policy is not None and policy.requests[-1]["requestor"] == "pat@contoso.com"
    status, _ = await post(http, sandbox, "/api/clock", {"minutes": 10})
    assert status == 200

    async def reported() -> bool:
        return any("opened outside jitbot" in m.text for m in stack.slack.messages_in(ONCALL_CHANNEL))

    await eventually(reported)


@pytest.mark.timeout(60)
async def test_jit_report_shows_the_chart_as_an_image_and_the_csv_as_a_link(
    http: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    bob_dm = "D" + APPROVER_1[1:]
    status, answer = await post(
        http, sandbox, "/api/command", {"user": APPROVER_1, "channel": bob_dm, "text": "/jit report"}
    )
    assert (status, answer["ok"]) == (200, True)

    async def shared_files() -> list[dict[str, Any]] | None:
        messages = conversation(await state(http, sandbox, APPROVER_1), bob_dm)["messages"]
        return next((m["files"] for m in messages if m["files"]), None)

    chart, rows = await eventually(shared_files, timeout=40)
    assert (chart["mimetype"], rows["mimetype"]) == ("image/png", "text/csv")
    async with http.get(sandbox.url + chart["url"].lstrip("/")) as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert (await response.read()).startswith(b"\x89PNG\r\n\x1a\n")
    async with http.get(sandbox.url + rows["url"].lstrip("/")) as response:
        assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
        assert (await response.text()).startswith("request id,requester,VM")
    someone_else = chart["url"].replace(f"user={APPROVER_1}", f"user={ENGINEER}")
    async with http.get(sandbox.url + someone_else.lstrip("/")) as response:
        assert response.status == 404
