"""Scenario 9: an enterprise's Azure: ``sandbox.enterprise`` (500 subscriptions, 50,000 VMs in the full run) under one
management group, served by its own ARM emulator with Resource Graph's quota on (15 queries per 5 s, as Azure).

A fresh bot with ``AZURE_MANAGEMENT_GROUP`` (requester RBAC off: the generated world has no Entra users) answers:
- ``/jit ssh|rdp <vm> 2h`` (the port its policy allows) cold, again for the same VM (warm), and for a VM in
  another subscription;
- App Home (an admin's: the tab counts need the whole inventory) cold, then warm, then ``/jit list`` (warm);
and a second fresh bot answers ``/jit list`` cold. Each is timed from the signed request sent to the card, the
reply or the published Home reaching Slack, with the ARM calls it made (token requests apart). RSS is read once the
inventory is loaded. A third fresh bot, whose identity lacks Resource Graph access, answers the cold ``/jit`` the
per-subscription way, for comparison. The background refresh is the periodic sync (every JIT policy list, fresh)
measured in calls per run and scaled to the default interval, plus the inventory's reloads at most once per
``GatewayTuning.inventory_ttl`` while someone looks.

The bots share a Redis of their own, like scenario 5: this is another tenant, and the requests, grants and schedule
the earlier scenarios left behind (a thousand pending burst requests among them) belong to a world whose VMs do not
exist here; the sync and the scheduler would spend the scenario closing them.

Azure keeps Resource Graph's index built; the emulator builds its ``Resources`` table (50,000 VMs with their NICs,
public IPs and VNets) before the first bot starts, so no bot's first query waits for that. Each step also reports
how much of its wall time the emulator spent answering (it runs in this process, in Python, and evaluates every
query over the whole table: Resource Graph answers such queries from an index).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import timedelta

import aiohttp

from bench.config import Sizes
from bench.emulators import TimedArm, poll
from bench.procs import sample_process
from bench.stats import overlap
from bench.world import World
from jit.azure.clients import GatewayTuning
from jit.settings import Settings
from sandbox.arm_inventory import Inventory, VirtualMachine
from sandbox.enterprise import ROOT_GROUP, Shape, enterprise_inventory, first_jit_vm
from sandbox.processes import BotProcess
from sandbox.redis_server import RedisServer
from sandbox.slack_driver import SlackDriver
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, ENGINEER
from sandbox.web.home_event import app_home_opened, send_event

TIMEOUT = 300.0
SYNC_EVERY = timedelta(seconds=20)


@dataclass(frozen=True)
class Step:
    """One user-visible action: wall time (s), ARM reads by operation, token requests, whether it finished, and how
    much of the wall time the ARM emulator spent answering (s)."""

    seconds: float
    reads: dict[str, int]
    tokens: int
    done: bool
    emulator: float = 0.0

    @property
    def total(self) -> int:
        """ARM reads (token requests not counted)."""
        return sum(self.reads.values())


@dataclass
class EnterpriseResult:
    """What scenario 9 reports."""

    subscriptions: int
    vms: int
    steps: dict[str, Step] = field(default_factory=dict)
    rss_inventory: int = 0
    sync_reads: int = 0
    inventory_reads: dict[str, int] = field(default_factory=dict)
    default_sync_minutes: float = 4.0
    inventory_ttl_minutes: float = 10.0


def _shape(sizes: Sizes) -> Shape:
    return Shape(
        subscriptions=sizes.enterprise_subscriptions, vms_per_subscription=sizes.enterprise_vms_per_subscription
    )


def _env(world: World, arm: TimedArm, redis_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = world.bot_env(redis_url, extra={"JITBOT_REQUESTER_RBAC": "off", **extra})
    env.update(arm.environment())
    env.pop("AZURE_SUBSCRIPTION_IDS", None)
    env["AZURE_MANAGEMENT_GROUP"] = ROOT_GROUP
    env["SSL_CERT_FILE"] = str(arm.ca_file)
    return env


async def _start(
    world: World, arm: TimedArm, redis: RedisServer, name: str, extra: dict[str, str] | None = None
) -> BotProcess:
    bot = BotProcess(_env(world, arm, redis.url, extra or {}), name=name)
    bot.startup_seconds = 120.0
    await bot.start()
    return bot


async def _step(arm: TimedArm, action: Awaitable[object], done: Callable[[], bool]) -> Step:
    arm.reset_calls()
    started = time.perf_counter()
    await action
    finished = await poll(done, TIMEOUT, interval=0.01)
    ended = time.perf_counter()
    reads = Counter(call.operation for call in arm.reads())
    tokens = sum(1 for call in arm.calls if call.operation == "token")
    return Step(ended - started, dict(reads), tokens, finished, overlap(arm.busy, started, ended))


def _port_word(inventory: Inventory, vm: VirtualMachine) -> str:
    """``ssh`` when the VM's JIT policy allows port 22, else ``rdp`` (the generated Windows VMs allow 3389 only)."""
    for policy in inventory.policies:
        for entry in policy.virtual_machines:
            if str(entry["id"]).lower() == vm.id.lower():
                return "ssh" if any(int(port["number"]) == 22 for port in entry["ports"]) else "rdp"
    return "ssh"


async def _request(world: World, arm: TimedArm, driver: SlackDriver, command: str, reason: str) -> Step:
    before = len(world.slack.posts_in(APPROVAL_CHANNEL))
    replies = world.slack.counts["response_url"]
    return await _step(
        arm,
        driver.slash_command(ENGINEER, f"{command} 2h {reason}"),
        lambda: len(world.slack.posts_in(APPROVAL_CHANNEL)) > before and world.slack.counts["response_url"] > replies,
    )


async def _list(world: World, arm: TimedArm, driver: SlackDriver) -> Step:
    replies = world.slack.counts["response_url"]
    return await _step(arm, driver.slash_command(ADMIN, "list"), lambda: world.slack.counts["response_url"] > replies)


async def _home(world: World, arm: TimedArm, bot: BotProcess, session: aiohttp.ClientSession) -> Step:
    published = world.slack.counts["views.publish"]
    event = app_home_opened(world.slack.workspace, user=ADMIN, channel=world.slack.dm_channel_id(ADMIN))
    return await _step(
        arm,
        send_event(session, bot.events_url, world.secret, event),
        lambda: world.slack.counts["views.publish"] > published,
    )


async def measure_enterprise(world: World, sizes: Sizes) -> EnterpriseResult:
    """Start the enterprise emulator and three bots in turn; see the module docstring."""
    inventory = enterprise_inventory(_shape(sizes))
    vm = first_jit_vm(inventory)
    other = next(
        v
        for p in reversed(inventory.policies)
        for v in inventory.in_group(p.subscription_id, p.resource_group)
        if v.subscription_id != vm.subscription_id and any(e["id"] == v.id for e in p.virtual_machines)
    )
    command, other_command = (f"{_port_word(inventory, v)} {v.name}" for v in (vm, other))
    result = EnterpriseResult(len(inventory.subscriptions), len(inventory.vms))
    sync_default = next(f.default for f in fields(Settings) if f.name == "sync_interval")
    assert isinstance(sync_default, timedelta)
    result.default_sync_minutes = sync_default.total_seconds() / 60
    result.inventory_ttl_minutes = GatewayTuning().inventory_ttl.total_seconds() / 60
    arm = TimedArm(inventory)
    redis = RedisServer().start()
    await arm.start()
    arm.index_resource_graph()
    try:
        bot = await _start(
            world, arm, redis, "bot-enterprise", {"JITBOT_SYNC_INTERVAL": f"{int(SYNC_EVERY.total_seconds())}s"}
        )
        try:
            assert bot.process is not None
            async with (
                SlackDriver(bot.events_url, world.secret, world.slack) as driver,
                aiohttp.ClientSession() as http,
            ):
                result.steps["jit_cold"] = await _request(world, arm, driver, command, "enterprise cold")
                result.steps["jit_warm"] = await _request(world, arm, driver, command, "enterprise warm")
                result.steps["jit_other"] = await _request(world, arm, driver, other_command, "enterprise other")
                result.steps["home_cold"] = await _home(world, arm, bot, http)
                result.rss_inventory = sample_process(bot.process.pid).rss_bytes
                result.inventory_reads = dict(result.steps["home_cold"].reads)
                result.steps["home_warm"] = await _home(world, arm, bot, http)
                result.steps["list_warm"] = await _list(world, arm, driver)
                arm.reset_calls()
                await poll(lambda: _policy_lists(arm) >= result.subscriptions, TIMEOUT, interval=0.2)
                result.sync_reads = _policy_lists(arm)
        finally:
            world.stop_bot(bot)
        bot = await _start(world, arm, redis, "bot-enterprise-list")
        try:
            async with SlackDriver(bot.events_url, world.secret, world.slack) as driver:
                result.steps["list_cold"] = await _list(world, arm, driver)
        finally:
            world.stop_bot(bot)
        arm.graph_denied = True
        bot = await _start(world, arm, redis, "bot-enterprise-lists")
        try:
            async with SlackDriver(bot.events_url, world.secret, world.slack) as driver:
                result.steps["jit_cold_lists"] = await _request(world, arm, driver, command, "enterprise lists")
        finally:
            world.stop_bot(bot)
    finally:
        await arm.stop()
        redis.close()
    return result


def _policy_lists(arm: TimedArm) -> int:
    return sum(1 for call in arm.reads() if call.operation == "jit.list_subscription")
