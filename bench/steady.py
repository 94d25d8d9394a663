"""Scenario 10: steady state: ``steady_rate`` commands a second for ``steady_seconds`` on one fresh bot.

RSS is sampled every ``steady_sample`` seconds while the load runs (it should stay flat after warm-up: no growth
beyond noise), and the bot's CPU time over the run divided by the commands gives the CPU per request, including
everything a command causes after its ack (checks, the request in Redis, the reply, the card). The posting limit
is lifted: ten cards a second in one channel would only measure Slack's limit (scenario 8 does that).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.config import Sizes
from bench.procs import LoadGenerator, sample_process
from bench.world import World


@dataclass(frozen=True)
class SteadyResult:
    """RSS samples (bytes, in time order), commands answered, seconds, bot CPU seconds, non-200 answers."""

    rss: list[int]
    commands: int
    seconds: float
    cpu_seconds: float
    not_bare: int

    @property
    def cpu_per_request(self) -> float:
        """Bot CPU seconds per command."""
        return self.cpu_seconds / self.commands if self.commands else float("nan")

    @property
    def growth(self) -> int:
        """RSS at the end minus RSS after the first quarter of the run (bytes)."""
        if len(self.rss) < 2:
            return 0
        return self.rss[-1] - self.rss[max(0, len(self.rss) // 4)]


async def measure_steady(world: World, sizes: Sizes, loadgen: LoadGenerator) -> SteadyResult:
    """Closed-loop clients with a pause sized to ``steady_rate`` commands a second in total."""
    bot = await world.start_bot("bot-steady")
    try:
        assert bot.process is not None
        pid = bot.process.pid
        count = int(sizes.steady_rate * sizes.steady_seconds)
        clients = 4
        bodies = world.command_bodies(count, "steady")
        samples: list[int] = []
        cpu_before = sample_process(pid).cpu_seconds

        async def sample() -> None:
            while True:
                samples.append(sample_process(pid).rss_bytes)
                await asyncio.sleep(sizes.steady_sample)

        sampler = asyncio.create_task(sample())
        try:
            result = await loadgen.run(
                bot.events_url,
                world.secret,
                bodies,
                concurrency=clients,
                gap=clients / sizes.steady_rate,
                realtime=False,
            )
            await world.slack.wait_counts({"response_url": world.slack.counts["response_url"]}, timeout=1.0)
            await asyncio.sleep(1.0)
        finally:
            sampler.cancel()
        samples.append(sample_process(pid).rss_bytes)
        cpu = sample_process(pid).cpu_seconds - cpu_before
    finally:
        world.stop_bot(bot)
    return SteadyResult(
        rss=samples,
        commands=result.sent,
        seconds=result.elapsed,
        cpu_seconds=cpu,
        not_bare=result.errors + result.with_body + sum(n for s, n in result.statuses.items() if s != 200),
    )
