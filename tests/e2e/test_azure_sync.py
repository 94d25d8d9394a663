"""Azure is the truth about open ports: the periodic sync finds what people did outside jitbot (the portal, the
CLI) and corrects jitbot's records, tells the holders and on-call, and audits it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.arm_demo import demo_inventory
from sandbox.arm_jit import JitEngine, azure_time
from sandbox.arm_outside import OpenPort, PortalUser
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVER_1, ENGINEER, ONCALL_CHANNEL
from sandbox.stack import DEFAULT_SOURCE, Stack, StackOptions
from tests.e2e.flow import dm_to, dms_containing
from tests.e2e.lifecycle_support import advance, current, events, granted, initiates, lifecycle_stack, poll, posts

CAROL = "carol@contoso.com"
HOME_IP = "198.51.100.7"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


MANUAL_SYNC = {"JITBOT_SYNC_INTERVAL": "24h"}
"""The tests below run the sync by hand; the scheduled one would run a day after start."""


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, clock, tmp_path, env=MANUAL_SYNC) as running:
        await running.runtime.service.sync_with_azure()
        yield running


def web01(stack: Stack) -> str:
    return stack.arm.inventory.vm("web-01").id


async def test_a_grant_superseded_in_the_portal_is_marked_and_its_holder_told(stack: Stack, clock: ManualClock) -> None:
    _, alice = await granted(stack, "ssh web-01 1h deploy", user=ENGINEER, approver=APPROVER_1)
    await advance(stack, clock, timedelta(minutes=5))
    async with PortalUser(stack.arm, CAROL) as carol:
        await carol.initiate(web01(stack), [OpenPort(22, HOME_IP, clock.now() + timedelta(minutes=30))], "hotfix")

    report = await stack.runtime.service.sync_with_azure()

    assert report.lost == [(alice, 22)]
    grant = await current(stack, alice)
    assert grant.state is RequestState.SUPERSEDED
    assert grant.extra["superseded_by"] == CAROL and "superseded_request" not in grant.extra
    dm = await dm_to(stack, ENGINEER, "closed by")
    assert CAROL in dm and "outside jitbot" in dm and HOME_IP in dm
    assert [o.requestor for o in report.outside] == [CAROL]
    await stack.slack.wait_until(lambda: posts(stack, ONCALL_CHANNEL, "Opened outside jitbot") or None)
    outside = [r async for r in stack.runtime.audit.entries() if r.event == "outside_access"]
    assert outside and outside[0].actor == CAROL and outside[0].detail["port"] == "22"

    await advance(stack, clock, timedelta(minutes=41))
    await stack.runtime.scheduler.tick()
    assert dms_containing(stack, ENGINEER, "closes in") == 0


async def test_outside_access_is_announced_once(stack: Stack, clock: ManualClock) -> None:
    async with PortalUser(stack.arm, CAROL) as carol:
        await carol.initiate(web01(stack), [OpenPort(22, HOME_IP, clock.now() + timedelta(hours=1))])

    first = await stack.runtime.service.sync_with_azure()
    second = await stack.runtime.service.sync_with_azure()

    assert len(first.outside) == 1 and second.outside == []
    text = str(posts(stack, ONCALL_CHANNEL, "Opened outside jitbot")[0].blocks)
    assert CAROL in text and "web-01" in text and HOME_IP in text
    assert len(posts(stack, ONCALL_CHANNEL, "Opened outside jitbot")) == 1


async def test_history_from_before_jitbot_first_synced_is_not_news(redis_server: RedisServer, tmp_path: Path) -> None:
    clock = ManualClock()
    inventory = demo_inventory(clock.now())
    engine = JitEngine(inventory, requestor="jitbot-managed-identity")
    policy = inventory.policy_covering(inventory.vm("web-01"))
    assert policy is not None
    opened_earlier = {
        "virtualMachines": [
            {
                "id": inventory.vm("web-01").id,
                "ports": [
                    {
                        "number": 22,
                        "allowedSourceAddressPrefix": HOME_IP,
                        "endTimeUtc": azure_time(clock.now() + timedelta(hours=1)),
                    }
                ],
            }
        ]
    }
    engine.initiate(policy, opened_earlier, clock.now() - timedelta(minutes=10), "127.0.0.1", CAROL)
    options = StackOptions(redis_url=redis_server.url, clock=clock, inventory=inventory, env=MANUAL_SYNC)
    async with Stack(options) as stack:
        await advance(stack, clock, timedelta(seconds=1))

        report = await stack.runtime.service.sync_with_azure()

        assert report.outside == []
        assert posts(stack, ONCALL_CHANNEL, "Opened outside jitbot") == []


async def test_a_window_reopened_from_the_same_source_with_an_earlier_end_is_restored(
    stack: Stack, clock: ManualClock
) -> None:
    _, alice = await granted(stack, "ssh web-01 2h deploy", user=ENGINEER, approver=APPROVER_1)
    alice_end = (await current(stack, alice)).ends_at
    await advance(stack, clock, timedelta(minutes=5))
    async with PortalUser(stack.arm, CAROL) as carol:
        await carol.initiate(web01(stack), [OpenPort(22, DEFAULT_SOURCE, clock.now() + timedelta(minutes=10))])
    before = initiates(stack)

    report = await stack.runtime.service.sync_with_azure()

    assert report.restored == [(alice, 22)]
    assert initiates(stack) == before + 1
    last = [c for c in stack.arm.calls if c.operation == "jit.initiate"][-1].body
    assert alice_end is not None
    assert last["virtualMachines"][0]["ports"][0]["endTimeUtc"].startswith(alice_end.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (await current(stack, alice)).state is RequestState.ACTIVE
    assert "window_restored" in await events(stack, alice)
    assert [o.requestor for o in report.outside] == [CAROL], "carol's access is reported, and kept (same source)"


async def test_a_vm_taken_out_of_jit_outside_jitbot_closes_its_grants(stack: Stack, clock: ManualClock) -> None:
    _, alice = await granted(stack, "ssh web-01 1h deploy", user=ENGINEER, approver=APPROVER_1)
    await advance(stack, clock, timedelta(minutes=5))
    policy = stack.arm.inventory.policy_covering(stack.arm.inventory.vm("web-01"))
    assert policy is not None
    async with PortalUser(stack.arm, CAROL) as carol:
        current_policy = await carol.get_policy(policy.id)
        others = [e for e in current_policy["properties"]["virtualMachines"] if e["id"].lower() != web01(stack).lower()]
        await carol.put_policy(policy.id, others)

    report = await stack.runtime.service.sync_with_azure()

    assert report.closed == [(alice, 22)]
    grant = await current(stack, alice)
    assert grant.state is RequestState.REVOKED
    assert grant.extra["closed_by_azure"]
    await dm_to(stack, ENGINEER, "no longer open in Azure")


async def test_a_reminder_is_not_sent_for_access_azure_no_longer_has(stack: Stack, clock: ManualClock) -> None:
    _, alice = await granted(stack, "ssh web-01 1h deploy", user=ENGINEER, approver=APPROVER_1)
    await advance(stack, clock, timedelta(minutes=44))
    async with PortalUser(stack.arm, CAROL) as carol:
        await carol.initiate(web01(stack), [OpenPort(22, HOME_IP, clock.now() + timedelta(minutes=30))])
    stack.arm.expire_windows()

    await advance(stack, clock, timedelta(minutes=2))

    await dm_to(stack, ENGINEER, "closed by")
    assert dms_containing(stack, ENGINEER, "closes in") == 0
    assert (await current(stack, alice)).state is RequestState.SUPERSEDED


async def test_the_sync_runs_by_itself_at_its_interval(redis_server: RedisServer, tmp_path: Path) -> None:
    clock = ManualClock()
    async with lifecycle_stack(redis_server, clock, tmp_path) as stack:
        assert await stack.runtime.schedule.due_at("sync:azure") == clock.now() + stack.runtime.settings.sync_interval
        await advance(stack, clock, timedelta(seconds=1))
        async with PortalUser(stack.arm, CAROL) as carol:
            await carol.initiate(web01(stack), [OpenPort(22, HOME_IP, clock.now() + timedelta(hours=1))])
        assert await stack.runtime.schedule.due_at("sync:azure") is not None

        await advance(stack, clock, stack.runtime.settings.sync_interval)

        await stack.slack.wait_until(lambda: posts(stack, ONCALL_CHANNEL, "Opened outside jitbot") or None, timeout=10)

        async def next_run_scheduled() -> bool:
            due = await stack.runtime.schedule.due_at("sync:azure")
            return due is not None and due >= clock.now() + stack.runtime.settings.sync_interval - timedelta(seconds=1)

        await poll(next_run_scheduled, "the next sync being scheduled")
