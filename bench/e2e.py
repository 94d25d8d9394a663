"""Scenario 7: end to end, as a person sees it, jitbot beside a minimal card bot, in the same run.

- Command: the signed ``/jit ssh <vm> 2h <reason>`` leaves the load generator (normal priority) → jitbot's reply
  to the requester reaches Slack (its response URL) and → the approval card reaches Slack (``chat.postMessage`` in
  the approval channel). The peer (``bench.baseline_app --mode cards``) acks and posts one card from a lazy
  listener; it sends no confirmation. Both are measured sequentially and at ``concurrency`` clients in a closed loop.
- Approve: the signed Approve click leaves the benchmark → Azure's ``initiate`` reaches the ARM emulator → the card
  is updated (``chat.update``) and the requester's DM is posted; the time both emulators spent answering calls in
  between is taken out, as in scenario 3. One at a time, then ``concurrency`` clicks at once (each on another VM:
  approvals for one VM are serialised by its lock, as they must be).

Every time is on ``perf_counter``, the system-wide monotonic clock, shared by the load generator and the emulators.
The emulator's posting limit is lifted here: this measures the bots, not Slack's limit (scenario 8 does that).
The requests go to ``vms`` JIT-enabled VMs added to the demo world for this scenario. Before measuring, each app gets
one command per VM (all at once: jitbot's concurrent lookups share Resource Graph queries) and then a sequential
warm-up, so the measured commands find every VM in jitbot's caches: what a cold lookup costs is scenario 9's
subject, and here Resource Graph's quota (15 queries per 5 s) would make a cold VM's wait the sequential p99.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from bench.config import Sizes
from bench.emulators import poll
from bench.procs import LoadGenerator, LoadResult, ServerProcess
from bench.stats import overlap
from bench.world import World
from sandbox.arm_demo import PROD
from sandbox.arm_inventory import JitPolicy, NetworkSecurityGroup, VirtualMachine
from sandbox.slack_driver import SlackDriver
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER

JITBOT = "jitbot"
PEER = "bolt-cards"
GROUP = "rg-e2e"
REGION = "westeurope"


@dataclass
class AppTimes:
    """One app's command timings (seconds): to the card, and (jitbot) to the requester's confirmation;
    ``card_seq_own`` is the sequential one with the emulators' answering time taken out (one command at a time,
    so every emulator call in its window is its own)."""

    card_seq: list[float] = field(default_factory=list)
    card_seq_own: list[float] = field(default_factory=list)
    card_conc: list[float] = field(default_factory=list)
    confirm_seq: list[float] = field(default_factory=list)
    confirm_conc: list[float] = field(default_factory=list)
    missing: int = 0


@dataclass
class ApproveTimes:
    """Approve click → initiate, → card updated, → requester DM (seconds, emulator time taken out)."""

    initiate: list[float] = field(default_factory=list)
    card: list[float] = field(default_factory=list)
    dm: list[float] = field(default_factory=list)


@dataclass
class EndToEnd:
    """Everything scenario 7 reports."""

    apps: dict[str, AppTimes]
    approve_seq: ApproveTimes
    approve_conc: ApproveTimes
    failed_approvals: int


def _e2e_vms(world: World, count: int) -> list[str]:
    """Add ``count`` JIT-enabled VMs (NIC NSG, ssh in the policy) to the demo world; returns their names."""
    inventory = world.arm.inventory
    names = [f"e2e-{n:03d}" for n in range(count)]
    if inventory.nsg(PROD, GROUP, "nsg-e2e") is None:
        inventory.nsgs.append(NetworkSecurityGroup(PROD, GROUP, "nsg-e2e", REGION))
        vms = [
            VirtualMachine(PROD, GROUP, name, REGION, nic_nsg="nsg-e2e", private_ip=f"10.60.{n // 250}.{4 + n % 250}")
            for n, name in enumerate(names)
        ]
        inventory.vms.extend(vms)
        port = {"number": 22, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}
        entries = [{"id": vm.id, "ports": [port]} for vm in vms]
        inventory.policies.append(JitPolicy(PROD, GROUP, REGION, virtual_machines=entries))
    return names


def _reason(body: str) -> tuple[str, str]:
    form = parse_qs(body)
    text = form["text"][0]
    token = form["response_url"][0].rsplit("/", 1)[-1]
    return text.rsplit(" ", 1)[-1], token


def _card_arrivals(world: World, since: float, tag: str) -> dict[str, tuple[float, str]]:
    """reason → (arrival, ts) of the first card naming it in the approval channel since ``since``."""
    pattern = re.compile(re.escape(tag) + r"-\d+")
    found: dict[str, tuple[float, str]] = {}
    for at, call in world.slack.posts_in(APPROVAL_CHANNEL, since):
        for reason in set(pattern.findall(str(call.args))):
            found.setdefault(reason, (at, str(call.response.get("ts", ""))))
    return found


async def _commands(
    world: World,
    loadgen: LoadGenerator,
    url: str,
    bodies: list[str],
    concurrency: int,
    gap: float,
    confirm: bool,
    wait: float,
) -> tuple[LoadResult, dict[str, tuple[float, str]], tuple[list[float], list[float]], list[float], int]:
    """Send ``bodies``; returns the load result, the cards by reason, card latencies (as seen, and with the
    emulators' answering time taken out), confirmation latencies, and how many cards or confirmations never
    came."""
    tag = _reason(bodies[0])[0].rsplit("-", 1)[0]
    since = time.perf_counter()
    result = await loadgen.run(url, world.secret, bodies, concurrency=concurrency, gap=gap, realtime=False)
    reasons = [_reason(body) for body in bodies]

    def arrived() -> bool:
        cards = _card_arrivals(world, since, tag)
        replies = all(token in world.slack.replies for _, token in reasons) if confirm else True
        return replies and all(reason in cards for reason, _ in reasons)

    await poll(arrived, wait)
    cards = _card_arrivals(world, since, tag)
    card_times = [cards[r][0] - start for (r, _), start in zip(reasons, result.starts, strict=True) if r in cards]
    busy = world.arm.busy + world.slack.busy
    own = [
        cards[r][0] - start - overlap(busy, start, cards[r][0])
        for (r, _), start in zip(reasons, result.starts, strict=True)
        if r in cards
    ]
    replies = [
        world.slack.replies[token] - start
        for (_, token), start in zip(reasons, result.starts, strict=True)
        if confirm and token in world.slack.replies
    ]
    missing = len(reasons) - len(card_times) + (len(reasons) - len(replies) if confirm else 0)
    return result, cards, (card_times, own), replies, missing


async def _approve_all(
    world: World, driver: SlackDriver, cards: list[Message], wait: float
) -> tuple[ApproveTimes, int]:
    """Click Approve on every card at once; time each to its initiate, its card update and a requester DM."""
    times = ApproveTimes()
    dm_channel = world.slack.dm_channel_id(ENGINEER)
    ids = [next(b.value for b in card.buttons() if b.action_id == "jit_approve") for card in cards]
    initiates_before = len(world.arm.initiate_arrivals)
    sent = time.perf_counter()
    answers = await asyncio.gather(
        *(
            driver.click(APPROVER_1, card, "jit_approve", request_id)
            for card, request_id in zip(cards, ids, strict=True)
        )
    )
    failed = sum(1 for answer in answers if answer.status != 200)
    ts = {card.ts for card in cards}

    def updates() -> dict[str, float]:
        return {
            str(call.args.get("ts")): at
            for at, call in world.slack.timed
            if at >= sent and call.method == "chat.update" and call.args.get("ts") in ts and call.status == 200
        }

    def done() -> bool:
        dms = world.slack.posts_in(dm_channel, sent)
        return len(updates()) >= len(cards) and len(dms) >= len(cards)

    await poll(done, wait)
    busy = world.arm.busy + world.slack.busy
    initiates = world.arm.initiate_arrivals[initiates_before:]
    dms = [at for at, _ in world.slack.posts_in(dm_channel, sent)][: len(cards)]
    for label, arrivals in (("initiate", initiates[: len(cards)]), ("card", sorted(updates().values())), ("dm", dms)):
        target = getattr(times, label)
        target.extend(at - sent - overlap(busy, sent, at) for at in arrivals)
    failed += len(cards) - min(len(initiates), len(cards))
    return times, failed


async def measure_end_to_end(world: World, sizes: Sizes, loadgen: LoadGenerator) -> EndToEnd:
    """Both apps, sequential then concurrent; then jitbot's approvals, one at a time then all at once."""
    vms = _e2e_vms(world, max(sizes.concurrency, 1))
    bot = await world.start_bot("bot-e2e")
    env = {
        "SLACK_SIGNING_SECRET": world.secret,
        "SLACK_BOT_TOKEN": world.slack.workspace.token,
        "SLACK_API_URL": world.slack.api_url,
        "JITBOT_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
    }
    peer = ServerProcess(PEER, ["-m", "bench.baseline_app", "--mode", "cards", "--port", "{port}"], env)
    apps = {JITBOT: AppTimes(), PEER: AppTimes()}
    try:
        await peer.start()
        urls = {JITBOT: bot.events_url, PEER: peer.events_url}
        seq_cards: dict[str, tuple[float, str]] = {}
        conc_cards: dict[str, tuple[float, str]] = {}
        for name, url in urls.items():
            confirm = name == JITBOT
            every_vm = world.command_bodies(len(vms), f"{name}-vms", vm=lambda n: vms[n])
            await _commands(world, loadgen, url, every_vm, len(vms), 0.0, confirm, sizes.e2e_wait)
            warm = world.command_bodies(sizes.e2e_warmup, f"{name}-warm", vm=lambda n: vms[n % len(vms)])
            await _commands(world, loadgen, url, warm, 1, sizes.sequential_gap, confirm, sizes.e2e_wait)
            seq = world.command_bodies(sizes.e2e_sequential, f"{name}-seq", vm=lambda n: vms[n % len(vms)])
            _, cards, card_times, replies, missing = await _commands(
                world, loadgen, url, seq, 1, sizes.e2e_gap, confirm, sizes.e2e_wait
            )
            (apps[name].card_seq, apps[name].card_seq_own), apps[name].confirm_seq = card_times, replies
            apps[name].missing = missing
            if confirm:
                seq_cards = cards
            conc = world.command_bodies(sizes.e2e_concurrent, f"{name}-conc", vm=lambda n: vms[n % len(vms)])
            _, cards, card_times, replies, missing = await _commands(
                world, loadgen, url, conc, sizes.concurrency, 0.0, confirm, sizes.e2e_wait
            )
            apps[name].card_conc, apps[name].confirm_conc = card_times[0], replies
            apps[name].missing += missing
            if confirm:
                conc_cards = cards
        async with SlackDriver(bot.events_url, world.secret, world.slack) as driver:
            approve_seq = ApproveTimes()
            failed = 0
            for _, ts in list(seq_cards.values())[: sizes.e2e_approvals]:
                one, bad = await _approve_all(
                    world, driver, [world.slack.message(APPROVAL_CHANNEL, ts)], sizes.e2e_wait
                )
                failed += bad
                for label in ("initiate", "card", "dm"):
                    getattr(approve_seq, label).extend(getattr(one, label))
            by_vm: dict[str, Message] = {}
            for _, ts in conc_cards.values():
                card = world.slack.message(APPROVAL_CHANNEL, ts)
                vm = next((v for v in vms if v in (card.text or "") or v in str(card.blocks)), ts)
                by_vm.setdefault(vm, card)
            wave = list(by_vm.values())[: sizes.concurrency]
            approve_conc, bad = await _approve_all(world, driver, wave, sizes.e2e_wait)
            failed += bad
    finally:
        peer.close()
        world.stop_bot(bot)
    return EndToEnd(apps, approve_seq, approve_conc, failed)
