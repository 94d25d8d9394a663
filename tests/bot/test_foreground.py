"""Acks first: background work starts only when no Slack request is being answered, or after ``max_defer``."""

from __future__ import annotations

import asyncio
import time

from bot.foreground import Foreground


async def _started(foreground: Foreground, name: str, log: list[str]) -> None:
    async with foreground.turn():
        log.append(name)


async def test_work_starts_at_once_when_nothing_is_being_answered() -> None:
    foreground = Foreground()
    log: list[str] = []
    await asyncio.wait_for(_started(foreground, "job", log), 1)
    assert log == ["job"] and foreground.deferred == 0


async def test_work_waits_for_every_answer_in_progress_then_starts_in_arrival_order() -> None:
    foreground = Foreground(max_defer=30)
    log: list[str] = []
    with foreground.answering():
        jobs = [asyncio.create_task(_started(foreground, f"job-{i}", log)) for i in range(3)]
        with foreground.answering():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert log == [] and foreground.waiting == 3
    await asyncio.wait_for(asyncio.gather(*jobs), 1)
    assert log == ["job-0", "job-1", "job-2"]
    assert foreground.deferred == 3 and foreground.waiting == 0


async def test_later_work_queues_behind_earlier_deferred_work_even_when_idle() -> None:
    foreground = Foreground(max_defer=30)
    log: list[str] = []
    with foreground.answering():
        first = asyncio.create_task(_started(foreground, "first", log))
        await asyncio.sleep(0)
    second = asyncio.create_task(_started(foreground, "second", log))
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert log == ["first", "second"]


async def test_work_is_deferred_at_most_max_defer_under_endless_answers() -> None:
    foreground = Foreground(max_defer=0.2)
    log: list[str] = []
    started = time.monotonic()
    with foreground.answering():
        await asyncio.wait_for(_started(foreground, "job", log), 2)
        waited = time.monotonic() - started
    assert log == ["job"]
    assert 0.15 <= waited < 1.5


async def test_a_cancelled_waiter_does_not_block_the_ones_behind_it() -> None:
    foreground = Foreground(max_defer=30)
    log: list[str] = []
    with foreground.answering():
        gone = asyncio.create_task(_started(foreground, "gone", log))
        kept = asyncio.create_task(_started(foreground, "kept", log))
        await asyncio.sleep(0)
        gone.cancel()
    await asyncio.wait_for(kept, 1)
    assert log == ["kept"] and gone.cancelled()


async def test_an_answer_that_fails_still_lets_work_start() -> None:
    foreground = Foreground(max_defer=30)
    log: list[str] = []
    try:
        with foreground.answering():
            job = asyncio.create_task(_started(foreground, "job", log))
            await asyncio.sleep(0)
            raise RuntimeError("handler failed")
    except RuntimeError:
        pass
    await asyncio.wait_for(job, 1)
    assert log == ["job"]


async def test_at_most_max_running_jobs_run_at_once_and_the_rest_follow_in_order() -> None:
    foreground = Foreground(max_running=2)
    finish = asyncio.Event()
    started: list[int] = []
    peak = 0

    async def job(i: int) -> None:
        nonlocal peak
        async with foreground.turn():
            started.append(i)
            peak = max(peak, foreground.running)
            await finish.wait()

    jobs = [asyncio.create_task(job(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert started == [0, 1] and foreground.waiting == 3
    finish.set()
    await asyncio.wait_for(asyncio.gather(*jobs), 1)
    assert started == [0, 1, 2, 3, 4] and peak == 2 and foreground.running == 0


async def test_the_cap_holds_even_for_work_that_waited_past_max_defer() -> None:
    foreground = Foreground(max_defer=0.05, max_running=1)
    finish = asyncio.Event()
    log: list[str] = []

    async def holder() -> None:
        async with foreground.turn():
            log.append("holder")
            await finish.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    late = asyncio.create_task(_started(foreground, "late", log))
    await asyncio.sleep(0.2)
    assert log == ["holder"]
    finish.set()
    await asyncio.wait_for(asyncio.gather(first, late), 1)
    assert log == ["holder", "late"]
