"""Extend: more time on top of the current end (capped by the policy's maximum from now, never shorter), approved
like a request (or by a rule), one Azure call, reminders moved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, APPROVER_GROUP, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import card_now, dm_to, dms_containing, driver_of, ephemeral_reply
from tests.e2e.lifecycle_support import (
    advance,
    current,
    dm_with_button,
    events,
    granted,
    has_button,
    initiates,
    jit_allow_rules,
    lifecycle_stack,
    wait_post,
    wait_request,
)
from tests.e2e.portal_support import home_of, open_home

AUTO_EXTEND = """
rules:
  - name: web-oncall
    match: {resource_group: rg-web}
    auto_approve:
      requesters: [U0ENGINE01]
      max_duration: 1h
      ports: [ssh]
"""
QUORUM = """
rules:
  - name: web-two-keys
    match: {resource_group: rg-web}
    quorum: 2
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, clock, tmp_path) as running:
        yield running


async def _ask_extension(stack: Stack, request_id: str, text: str = "") -> str:
    """The engineer asks; returns the value on the extension card's Approve button."""
    await driver_of(stack).slash_command(ENGINEER, f"extend {request_id} {text}".strip())
    await ephemeral_reply(stack, ENGINEER, "Asked the approvers")
    card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", f"{request_id}#ext1"))
    return f"{request_id}#ext1" if card else ""


def _initiate_end(stack: Stack) -> datetime:
    body = [c for c in stack.arm.calls if c.operation == "jit.initiate"][-1].body
    return datetime.fromisoformat(body["virtualMachines"][0]["ports"][0]["endTimeUtc"].replace("Z", "+00:00"))


async def test_extend_from_the_reminder_moves_the_window_and_the_reminders(stack: Stack, clock: ManualClock) -> None:
    card, request_id = await granted(stack)
    first_end = (await current(stack, request_id)).ends_at
    assert first_end is not None
    await advance(stack, clock, timedelta(minutes=46))
    await dm_to(stack, ENGINEER, "closes in")
    reminder = dm_with_button(stack, ENGINEER, "jit_extend", request_id)
    assert reminder is not None

    await driver_of(stack).click(ENGINEER, reminder, "jit_extend", request_id)

    await ephemeral_reply(stack, ENGINEER, "Asked the approvers to extend")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", f"{request_id}#ext1"))
    assert "Extension request" in str(ext_card.blocks)
    stack.arm.reset_calls()
    await driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", f"{request_id}#ext1")

    await wait_request(stack, request_id, lambda r: r.extra.get("ext_state") == "granted")
    assert [c.operation for c in stack.arm.writes()] == ["jit.initiate"]
    assert _initiate_end(stack) == first_end + timedelta(hours=1), "an hour on top of the current end"
    request = await current(stack, request_id)
    assert request.state is RequestState.ACTIVE
    assert request.ends_at == first_end + timedelta(hours=1)
    assert request.extra["extensions"] == "1"
    await stack.slack.wait_until(lambda: "Extended 1 time" in str(card_now(stack, card).blocks) or None)
    await stack.slack.wait_until(lambda: dms_containing(stack, ENGINEER, "is open") == 2 or None)
    assert "extended" in await events(stack, request_id)

    await advance(stack, clock, timedelta(minutes=20))
    await stack.runtime.scheduler.tick()
    assert (await current(stack, request_id)).state is RequestState.ACTIVE
    assert dms_containing(stack, ENGINEER, "closes in") == 1
    await advance(stack, clock, timedelta(minutes=40))
    await stack.slack.wait_until(lambda: dms_containing(stack, ENGINEER, "closes in") == 2 or None)
    await advance(stack, clock, timedelta(minutes=15))
    await dm_to(stack, ENGINEER, "has ended")
    assert (await current(stack, request_id)).state is RequestState.EXPIRED


async def test_an_extension_never_ends_access_earlier(stack: Stack, clock: ManualClock) -> None:
    """Found by a new user: `/jit extend <id> 30m` on a 3-hour grant approved a minute earlier cut it to 30 minutes."""
    _, request_id = await granted(stack, text="ssh web-01 3h long migration")
    before = (await current(stack, request_id)).ends_at
    await advance(stack, clock, timedelta(minutes=1))
    stack.arm.reset_calls()

    await driver_of(stack).slash_command(ENGINEER, f"extend {request_id} 30m")

    reply = await ephemeral_reply(stack, ENGINEER, "cannot be extended now")
    assert "at most until" in reply and "already lasts until" in reply
    request = await current(stack, request_id)
    assert request.ends_at == before
    assert extension_state(request) is None
    assert stack.arm.writes() == []


async def test_an_extension_is_capped_at_the_policy_maximum_from_now(stack: Stack, clock: ManualClock) -> None:
    _, request_id = await granted(stack)
    before = (await current(stack, request_id)).ends_at
    assert before is not None

    value = await _ask_extension(stack, request_id, "4h")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", value))
    await driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", value)

    request = await wait_request(stack, request_id, lambda r: r.extra.get("ext_state") == "granted")
    assert request.ends_at == clock.now() + timedelta(hours=3), "web-01's port 22 allows 3h from now"
    assert request.ends_at > before


def extension_state(request: object) -> str | None:
    extra = getattr(request, "extra", {})
    return extra.get("ext_state")


async def test_only_the_requester_or_an_admin_may_extend(stack: Stack) -> None:
    _, request_id = await granted(stack)

    await driver_of(stack).slash_command(APPROVER_2, f"extend {request_id} 30m")
    await ephemeral_reply(stack, APPROVER_2, "Only the person who asked")
    assert "extend_refused" in await events(stack, request_id)

    await driver_of(stack).slash_command(ADMIN, f"extend {request_id} 30m")
    await ephemeral_reply(stack, ADMIN, "Asked the approvers")


async def test_the_requester_cannot_approve_their_own_extension(stack: Stack) -> None:
    _, request_id = await granted(stack, user=APPROVER_1, text="ssh web-01 1h my own", approver=APPROVER_2)
    await driver_of(stack).slash_command(APPROVER_1, f"extend {request_id} 30m")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", f"{request_id}#ext1"))

    await driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", f"{request_id}#ext1")

    await ephemeral_reply(stack, APPROVER_1, "your own access")
    assert extension_state(await current(stack, request_id)) == "pending"


async def test_a_denied_extension_leaves_the_window_alone(stack: Stack) -> None:
    _, request_id = await granted(stack)
    before = (await current(stack, request_id)).ends_at
    value = await _ask_extension(stack, request_id, "30m")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_deny", value))
    stack.arm.reset_calls()

    await driver_of(stack).click(APPROVER_2, ext_card, "jit_deny", value)

    await dm_to(stack, ENGINEER, "Denied")
    request = await current(stack, request_id)
    assert request.ends_at == before and request.extra["ext_state"] == "denied"
    assert stack.arm.writes() == []
    late = await stack.runtime.service.approve(value, APPROVER_1)
    assert not late.acted and late.request.extra["ext_state"] == "denied"


async def test_an_extension_nobody_approves_lapses_with_the_access(stack: Stack, clock: ManualClock) -> None:
    _, request_id = await granted(stack)
    await _ask_extension(stack, request_id, "30m")

    await advance(stack, clock, timedelta(hours=1))

    await dm_to(stack, ENGINEER, "has ended")
    await dm_to(stack, ENGINEER, "ended before anyone approved")
    request = await current(stack, request_id)
    assert request.state is RequestState.EXPIRED and request.extra["ext_state"] == "timed_out"
    assert not any(m.buttons() for m in stack.slack.messages_in(APPROVAL_CHANNEL))


async def test_a_rule_extends_at_once(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> None:
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=AUTO_EXTEND) as stack:
        _, request_id = await _auto_granted(stack)
        await advance(stack, clock, timedelta(minutes=30))
        stack.arm.reset_calls()

        await driver_of(stack).slash_command(ENGINEER, f"extend {request_id} 45m")

        await ephemeral_reply(stack, ENGINEER, "approved by rule")
        assert initiates(stack) == 1
        request = await current(stack, request_id)
        assert request.ends_at == clock.now() + timedelta(minutes=30 + 45), "45 minutes on top of the 30 left"
        assert request.extra["ext_auto"] == "web-oncall" and request.extra["extensions"] == "1"
        audit = await stack.runtime.audit.for_request(request_id)
        asked = next(r for r in audit if r.event == "extension_requested")
        assert asked.detail.get("auto_approved_by_rule") == "web-oncall"
        assert not any(has_button("jit_approve")(m) for m in stack.slack.messages_in(APPROVAL_CHANNEL))


async def _auto_granted(stack: Stack) -> tuple[str, str]:
    await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h deploy")
    await dm_to(stack, ENGINEER, "is open")
    request = (await stack.runtime.store.by_requester(ENGINEER))[-1]
    return "", request.id


async def test_extension_approval_racing_a_revoke_ends_revoked_and_closed(stack: Stack) -> None:
    _, request_id = await granted(stack)
    value = await _ask_extension(stack, request_id, "1h")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", value))
    dm = dm_with_button(stack, ENGINEER, "jit_revoke", request_id)
    assert dm is not None
    stack.arm.reset_calls()

    await asyncio.gather(
        driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", value),
        driver_of(stack).click(ENGINEER, dm, "jit_revoke", request_id),
    )

    await stack.slack.wait_until(lambda: len(stack.slack.ephemerals_for(ENGINEER)) >= 2 or None)
    await stack.slack.wait_until(lambda: jit_allow_rules(stack) == [] or None, timeout=10)
    request = await current(stack, request_id)
    assert request.state is RequestState.REVOKED
    assert initiates(stack) <= 1
    audit = await events(stack, request_id)
    assert audit.count("revoked") == 1 and "expired" not in audit


async def test_extension_approval_racing_expiry_has_one_outcome(stack: Stack, clock: ManualClock) -> None:
    _, request_id = await granted(stack)
    value = await _ask_extension(stack, request_id, "1h")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", value))
    await advance(stack, clock, timedelta(minutes=59, seconds=59))

    await asyncio.gather(
        driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", value),
        advance(stack, clock, timedelta(seconds=1)),
    )

    request = await wait_request(
        stack, request_id, lambda r: r.extra.get("ext_state") in ("granted", "failed", "timed_out")
    )
    await stack.runtime.scheduler.tick()
    request = await current(stack, request_id)
    audit = await events(stack, request_id)
    assert ("extended" in audit) != ("expired" in audit), audit
    if request.state is RequestState.EXPIRED:
        await stack.slack.wait_until(lambda: jit_allow_rules(stack) == [] or None, timeout=10)
    else:
        assert request.state is RequestState.ACTIVE and request.ends_at == clock.now() + timedelta(hours=1)
        assert jit_allow_rules(stack)


async def test_concurrent_quorum_approvals_of_an_extension_make_one_initiate(
    redis_server: RedisServer, clock: ManualClock, tmp_path: Path
) -> None:
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=QUORUM) as stack:
        from tests.e2e.flow import request_card

        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")
        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        await driver_of(stack).click(APPROVER_2, card, "jit_approve", request_id)
        await dm_to(stack, ENGINEER, "is open")
        value = await _ask_extension(stack, request_id, "30m")
        ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", value))
        stack.arm.reset_calls()

        await asyncio.gather(
            *(
                driver_of(stack).click((APPROVER_1, APPROVER_2)[i % 2], ext_card, "jit_approve", value)
                for i in range(20)
            )
        )

        request = await wait_request(stack, request_id, lambda r: r.extra.get("ext_state") == "granted")
        await stack.runtime.scheduler.tick()
        assert initiates(stack) == 1
        assert sorted(request.extra["ext_approvals"].split(",")) == sorted([APPROVER_1, APPROVER_2])
        audit = await events(stack, request_id)
        assert audit.count("extension_approved") == 1 and audit.count("extended") == 1


async def test_extend_and_close_from_app_home(stack: Stack) -> None:
    _, request_id = await granted(stack)
    await open_home(stack, ENGINEER)
    await home_of(stack, ENGINEER, lambda text: "jit_extend" in text or request_id in text)

    await driver_of(stack).click_home(ENGINEER, "jit_extend", request_id)

    await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", f"{request_id}#ext1"))
    await stack.slack.wait_until(
        lambda: any("Asked the approvers" in str(v.content) for v in stack.slack.views_for(ENGINEER)) or None
    )
    await driver_of(stack).click_home(ENGINEER, "jit_revoke", request_id)
    await wait_request(stack, request_id, lambda r: r.state is RequestState.REVOKED)
    await stack.slack.wait_until(lambda: jit_allow_rules(stack) == [] or None)


async def test_someone_the_rules_no_longer_allow_cannot_extend(
    redis_server: RedisServer, clock: ManualClock, tmp_path: Path
) -> None:
    async with lifecycle_stack(redis_server, clock, tmp_path, rules="rules: []\n") as stack:
        _, request_id = await granted(stack)
        (tmp_path / "rules.yaml").write_text(
            "rules:\n  - name: web-admins\n    match: {resource_group: rg-web}\n    requesters: [U0ADMIN001]\n",
            encoding="utf-8",
        )
        await stack.restart_bot()

        await driver_of(stack).slash_command(ENGINEER, f"extend {request_id} 30m")

        await ephemeral_reply(stack, ENGINEER, "no longer lets this person ask")
        assert "ext_state" not in (await current(stack, request_id)).extra


async def test_whoever_asked_for_an_extension_cannot_approve_it(
    redis_server: RedisServer, clock: ManualClock, tmp_path: Path
) -> None:
    """Security review: an admin who is also an approver asked to extend someone else's grant and approved it alone."""
    env = {"JITBOT_APPROVERS": f"{APPROVER_GROUP},{ADMIN}"}
    async with lifecycle_stack(redis_server, clock, tmp_path, env=env) as stack:
        _, request_id = await granted(stack)
        await driver_of(stack).slash_command(ADMIN, f"extend {request_id} 30m")
        ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", f"{request_id}#ext1"))
        stack.arm.reset_calls()

        await driver_of(stack).click(ADMIN, ext_card, "jit_approve", f"{request_id}#ext1")

        await ephemeral_reply(stack, ADMIN, "You asked for this extension")
        assert extension_state(await current(stack, request_id)) == "pending"
        assert stack.arm.writes() == []
        audit = await stack.runtime.audit.for_request(request_id)
        refused = [r for r in audit if r.event == "extension_approve_refused"]
        assert refused and refused[-1].actor == ADMIN and refused[-1].detail.get("why") == "asked_for_it"

        await driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", f"{request_id}#ext1")
        await wait_request(stack, request_id, lambda r: r.extra.get("ext_state") == "granted")


async def test_a_failed_extension_is_never_recorded_as_granted(stack: Stack) -> None:
    """Security review: after 5xx on the extension's initiate, the history check matched the original grant's entry
    (same justification) and recorded the extension as granted with the old end."""
    _, request_id = await granted(stack)
    before = await current(stack, request_id)
    value = await _ask_extension(stack, request_id, "30m")
    ext_card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve", value))
    stack.arm.faults.add("jit.initiate", status=500, times=10)

    await driver_of(stack).click(APPROVER_1, ext_card, "jit_approve", value)

    request = await wait_request(
        stack, request_id, lambda r: r.extra.get("ext_state") in ("granted", "failed"), timeout=30
    )
    assert request.extra["ext_state"] == "failed"
    assert request.ends_at == before.ends_at
    assert "extended" not in await events(stack, request_id)
    assert len(request.attempts) == len(before.attempts) + 1, "the extension's initiate had its own marker"
    await dm_to(stack, ENGINEER, "Extension failed")
