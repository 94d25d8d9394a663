"""Scenario 8: an incident: ``burst_commands`` ``/jit`` commands from as many people within ``burst_seconds``.

The Slack emulator enforces chat.postMessage's documented limit (``sandbox.slack_rate_limits``: a burst of
``PostingLimit.burst`` per channel, then one a second, 429 + ``Retry-After`` past it), so every card must wait its
turn in the one approval channel. Measured: acks over Slack's 3 s, answers other than a bare 200, each requester's
confirmation (command sent → its response URL reached), cards posted (each exactly once), every 429 honoured (no
post to the channel sooner than its ``Retry-After``), the drain time (first command sent → last card in) and its
ratio to the least the limit allows, jitbot's peak RSS, and what the approvers saw meanwhile (the backlog notice).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from bench.config import Sizes
from bench.emulators import poll
from bench.procs import LoadGenerator, sample_process
from bench.world import World
from sandbox.slack_rate_limits import PostingLimit
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVAL_CHANNEL, SlackUser

SLACK_ACK_DEADLINE = 3.0
CONFIRM_DEADLINE = 3.0


@dataclass(frozen=True)
class BurstResult:
    """What scenario 8 reports."""

    commands: int
    seconds_sent: float
    slow_acks: int
    not_bare: int
    confirmations: list[float]
    cards_posted: int
    cards_twice: int
    throttled: int
    retry_after_broken: int
    drain_seconds: float
    limit_minimum: float
    peak_rss: int
    notice_updates: int
    notice_first: str
    notice_last: str


def burst_users(world: World, count: int) -> list[str]:
    """``count`` engineers added to the workspace (``U0B000000``…), each asking once."""
    workspace = world.slack.workspace
    ids = [f"U0B{n:06d}" for n in range(count)]
    known = {user.id for user in workspace.users}
    workspace.users.extend(
        SlackUser(id=user, name=f"eng{n}", real_name=f"Engineer {n}") for n, user in enumerate(ids) if user not in known
    )
    return ids


async def measure_burst(
    world: World, sizes: Sizes, loadgen: LoadGenerator, limit: PostingLimit | None = None
) -> BurstResult:
    """Run the burst against a fresh bot and wait until every card is in. ``limit`` (Slack's documented one by
    default) may be raised for a quicker run: the bot is told its posting interval to match."""
    limit = limit or PostingLimit()
    world.slack.posting_limit = limit
    world.slack.posting_limit_on = True
    users = burst_users(world, sizes.burst_commands)
    extra = {"JITBOT_REQUESTER_RBAC": "off", "JITBOT_SLACK_POST_INTERVAL": f"PT{1.0 / limit.per_second:.3f}S"}
    bot = await world.start_bot("bot-burst", extra=extra)
    try:
        assert bot.process is not None
        bodies = world.command_bodies(sizes.burst_commands, "burst", users=users)
        reasons = [parse_qs(b)["text"][0].rsplit(" ", 1)[-1] for b in bodies]
        tokens = [parse_qs(b)["response_url"][0].rsplit("/", 1)[-1] for b in bodies]
        clients = max(1, sizes.concurrency)
        gap = clients * sizes.burst_seconds / max(1, sizes.burst_commands)
        since = time.perf_counter()
        result = await loadgen.run(bot.events_url, world.secret, bodies, concurrency=clients, gap=gap, realtime=False)
        pattern = re.compile(r"burst-\d+")

        def cards() -> dict[str, int]:
            seen: dict[str, int] = {}
            for _, call in world.slack.posts_in(APPROVAL_CHANNEL, since):
                for reason in set(pattern.findall(str(call.args))):
                    seen[reason] = seen.get(reason, 0) + 1
            return seen

        drain_limit = 60.0 + 2.0 * sizes.burst_commands / limit.per_second
        await poll(lambda: len(cards()) >= len(reasons), drain_limit, interval=0.2)
        if _notices(world):
            await poll(lambda: any("posted" in (m.text or "") for m in _notices(world)), 30.0, interval=0.2)
        posted = cards()
        arrivals = [at for at, call in world.slack.posts_in(APPROVAL_CHANNEL, since) if pattern.search(str(call.args))]
        peak = sample_process(bot.process.pid).peak_rss_bytes
    finally:
        world.stop_bot(bot)
        world.slack.posting_limit_on = False
    posts = [
        (at, call)
        for at, call in world.slack.timed
        if at >= since and call.method == "chat.postMessage" and call.args.get("channel") == APPROVAL_CHANNEL
    ]
    throttled = [(at, call) for at, call in posts if call.status == 429]
    broken = sum(
        1 for at, _ in throttled if any(at + 0.1 < other < at + limit_retry(limit) - 0.1 for other, _ in posts)
    )
    confirmations = [
        world.slack.replies[t] - s for t, s in zip(tokens, result.starts, strict=True) if t in world.slack.replies
    ]
    notices = _notices(world)
    updates = [
        c for _, c in world.slack.timed if c.method == "chat.update" and c.args.get("ts") in {m.ts for m in notices}
    ]
    first_text = next(
        (str(c.args.get("text", "")) for _, c in posts if "waiting for their approval cards" in str(c.args)), ""
    )
    return BurstResult(
        commands=len(bodies),
        seconds_sent=max(result.starts) - min(result.starts) if result.starts else 0.0,
        slow_acks=sum(1 for latency in result.latencies if latency > SLACK_ACK_DEADLINE) + result.errors,
        not_bare=result.with_body + sum(n for status, n in result.statuses.items() if status != 200),
        confirmations=confirmations,
        cards_posted=len(posted),
        cards_twice=sum(1 for count in posted.values() if count > 1),
        throttled=len(throttled),
        retry_after_broken=broken,
        drain_seconds=(max(arrivals) - min(result.starts)) if arrivals and result.starts else float("nan"),
        limit_minimum=max(0.0, len(reasons) - limit.burst) / limit.per_second,
        peak_rss=peak,
        notice_updates=len(updates),
        notice_first=first_text,
        notice_last=notices[-1].text or "" if notices else "",
    )


def limit_retry(limit: PostingLimit) -> float:
    """The ``Retry-After`` the emulator answers at this limit (one token's worth, whole seconds)."""
    return max(1.0, 1.0 / limit.per_second)


def _notices(world: World) -> list[Message]:
    return [m for m in world.slack.messages_in(APPROVAL_CHANNEL) if "approval cards" in (m.text or "")]
