"""Scenarios 1, 2 and 6: ack latency and throughput of jitbot, a default Bolt app and the floor; jitbot's RSS.

All three servers run at once, each in its own process, and are measured in interleaved rounds so that
whatever else the machine is doing hits them alike. The load generator is a separate process, so the
emulators (which answer jitbot's work after each ack) never delay a measured answer inside the client.

- sequential: one client, one request at a time, ``sequential_gap`` between them (each command lands on an
  idle server, like real Slack traffic);
- concurrent: ``concurrency`` clients in a closed loop with no pause (a burst during an incident);
- sequential at real-time priority: the sequential run again with the load generator at real-time priority, so the
  servers' work after each answer cannot delay it reading the answer (a secondary row; Slack reads acks on its own
  machines, which neither placement reproduces).

The measured runs keep the load generator at normal priority, as a client would be (see ``bench.loadgen``).

jitbot keeps working after each ack (rate limit, validation, the request, the reply, the approval card);
before the next measurement starts, the benchmark waits until that work is done, so it never leaks into
another app's numbers. The server's CPU time per request therefore includes that work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.config import Sizes
from bench.procs import LoadGenerator, LoadResult, ServerProcess, sample_process
from bench.world import World

JITBOT = "jitbot"
PEER = "bolt-default"
FLOOR = "bolt-floor"
APPS = (JITBOT, PEER, FLOOR)


@dataclass
class AckResult:
    """What one app did under the ack scenarios."""

    name: str
    sequential: list[float] = field(default_factory=list)
    realtime_sequential: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)
    concurrent_elapsed: float = 0.0
    concurrent_cpu: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    first_error: str | None = None
    with_body: int = 0
    first_body: str | None = None
    sent: int = 0

    @property
    def throughput(self) -> float:
        """Answers per second at ``concurrency`` clients."""
        return len(self.concurrent) / self.concurrent_elapsed if self.concurrent_elapsed > 0 else 0.0

    @property
    def cpu_per_request(self) -> float:
        """Server CPU seconds per request during the concurrent runs (jitbot: including its work after acks)."""
        return self.concurrent_cpu / len(self.concurrent) if self.concurrent else 0.0

    def add(self, result: LoadResult) -> None:
        """Count a job's answers and errors."""
        self.statuses.update(result.statuses)
        self.errors += result.errors
        self.first_error = self.first_error or result.first_error
        self.with_body += result.with_body
        self.first_body = self.first_body or result.first_body
        self.sent += result.sent + result.errors


@dataclass
class Target:
    """One server under test: where it listens, its pid, and how to wait for its background work."""

    name: str
    url: str
    pid: int
    drain: Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class MemoryResult:
    """jitbot's memory: after start-up, and after ``requests`` commands (RSS and peak RSS, bytes)."""

    requests: int
    rss_start: int
    rss_after: int
    peak_after: int
    drained: bool


@dataclass(frozen=True)
class AckScenario:
    """Results of scenarios 1, 2 and 6; ``slack_connections`` counts the TCP connections jitbot opened to
    Slack (Web API and response URLs) while it handled ``memory.requests`` commands."""

    apps: dict[str, AckResult]
    memory: MemoryResult
    undrained: int
    slack_connections: int
    client_realtime: bool


async def _nothing_to_drain() -> bool:
    return True


class JitbotDrain:
    """Waits until jitbot has replied to every command sent so far and posted every approval card."""

    def __init__(self, world: World):
        self.world = world
        self.expected = 0
        self.base_replies = world.slack.counts["response_url"]
        self.base_posts = world.slack.counts["chat.postMessage"]

    def sent(self, count: int) -> None:
        """``count`` more commands went to jitbot."""
        self.expected += count

    async def __call__(self) -> bool:
        """True once all replies and cards are out; False after a generous timeout."""
        wanted = {
            "response_url": self.base_replies + self.expected,
            "chat.postMessage": self.base_posts + self.expected,
        }
        return await self.world.slack.wait_counts(wanted, timeout=60.0 + 0.05 * self.expected)


async def measure_acks(world: World, sizes: Sizes, loadgen: LoadGenerator) -> AckScenario:
    """Start the three servers, measure them in rounds, then load jitbot to ``memory_requests`` and read RSS."""
    bot = await world.start_bot("bot-load")
    env = {
        "SLACK_SIGNING_SECRET": world.secret,
        "SLACK_BOT_TOKEN": world.slack.workspace.token,
        "SLACK_API_URL": world.slack.api_url,
    }
    baselines = {
        name: ServerProcess(name, ["-m", "bench.baseline_app", "--mode", mode, "--port", "{port}"], env)
        for name, mode in ((PEER, "peer"), (FLOOR, "floor"))
    }
    try:
        for server in baselines.values():
            await server.start()
        assert bot.process is not None
        drain = JitbotDrain(world)
        targets = [Target(JITBOT, bot.events_url, bot.process.pid, drain)]
        targets += [Target(n, s.events_url, s.pid, _nothing_to_drain) for n, s in baselines.items()]
        rss_start = sample_process(bot.process.pid).rss_bytes
        results = {t.name: AckResult(t.name) for t in targets}
        undrained = 0
        connections = 0
        realtime = True

        async def send(target: Target, count: int, concurrency: int, gap: float, priority: bool = True) -> LoadResult:
            nonlocal undrained, connections, realtime
            bodies = world.command_bodies(count, f"{target.name}-{concurrency}")
            if target.name == JITBOT:
                drain.sent(count)
            connections_before = world.slack.connections
            result = await loadgen.run(
                target.url, world.secret, bodies, concurrency=concurrency, gap=gap, realtime=priority
            )
            realtime = realtime and (result.realtime or not priority)
            results[target.name].add(result)
            if not await target.drain():
                undrained += 1
            if target.name == JITBOT:
                connections += world.slack.connections - connections_before
            return result

        for target in targets:
            await send(target, sizes.warmup, 1, sizes.sequential_gap)
        per_round_seq = max(1, sizes.sequential // sizes.rounds)
        per_round_conc = max(sizes.concurrency, sizes.concurrent // sizes.rounds)
        for _ in range(sizes.rounds):
            for target in targets:
                result = await send(target, per_round_seq, 1, sizes.sequential_gap, priority=False)
                results[target.name].sequential += result.latencies
            for target in targets:
                cpu_before = sample_process(target.pid).cpu_seconds
                result = await send(target, per_round_conc, sizes.concurrency, 0.0, priority=False)
                app = results[target.name]
                app.concurrent += result.latencies
                app.concurrent_elapsed += result.elapsed
                app.concurrent_cpu += sample_process(target.pid).cpu_seconds - cpu_before
        for target in targets:
            result = await send(target, per_round_seq, 1, sizes.sequential_gap, priority=True)
            results[target.name].realtime_sequential += result.latencies
        remaining = sizes.memory_requests - results[JITBOT].sent
        if remaining > 0:
            await send(targets[0], remaining, sizes.concurrency, 0.0)
        drained = await drain()
        after = sample_process(bot.process.pid)
        memory = MemoryResult(results[JITBOT].sent, rss_start, after.rss_bytes, after.peak_rss_bytes, drained)
        return AckScenario(results, memory, undrained, connections, realtime)
    finally:
        for server in baselines.values():
            server.close()
        world.stop_bot(bot)
