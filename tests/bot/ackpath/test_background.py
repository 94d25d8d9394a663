"""Acks first: background work starts only when no Slack request is being answered, or after ``max_defer``."""

from __future__ import annotations

import asyncio
import time

from bot.ackpath.background import BackgroundWork


async def _started(work: BackgroundWork, name: str, log: list[str]) -> None:
    async with work.run_later():
        log.append(name)


def _counting_deferrals() -> tuple[BackgroundWork, list[None]]:
    deferrals: list[None] = []
    return BackgroundWork(max_defer=30, on_deferred=lambda: deferrals.append(None)), deferrals


async def test_work_starts_at_once_when_nothing_is_being_answered() -> None:
    work, deferrals = _counting_deferrals()
    log: list[str] = []
    await asyncio.wait_for(_started(work, "job", log), 1)
    assert log == ["job"] and deferrals == []


async def test_work_waits_for_every_answer_in_progress_then_starts_in_arrival_order() -> None:
    work, deferrals = _counting_deferrals()
    log: list[str] = []
    with work.answering():
        jobs = [asyncio.create_task(_started(work, f"job-{i}", log)) for i in range(3)]
        with work.answering():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert log == [] and work.waiting == 3
    await asyncio.wait_for(asyncio.gather(*jobs), 1)
    assert log == ["job-0", "job-1", "job-2"]
    assert len(deferrals) == 3 and work.waiting == 0


async def test_later_work_queues_behind_earlier_deferred_work_even_when_idle() -> None:
    work = BackgroundWork(max_defer=30)
    log: list[str] = []
    with work.answering():
        first = asyncio.create_task(_started(work, "first", log))
        await asyncio.sleep(0)
    second = asyncio.create_task(_started(work, "second", log))
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert log == ["first", "second"]


async def test_work_is_deferred_at_most_max_defer_under_endless_answers() -> None:
    work = BackgroundWork(max_defer=0.2)
    log: list[str] = []
    started = time.monotonic()
    with work.answering():
        await asyncio.wait_for(_started(work, "job", log), 2)
        waited = time.monotonic() - started
    assert log == ["job"]
    assert 0.15 <= waited < 1.5


async def test_a_cancelled_waiter_does_not_block_the_ones_behind_it() -> None:
    work = BackgroundWork(max_defer=30)
    log: list[str] = []
    with work.answering():
        gone = asyncio.create_task(_started(work, "gone", log))
        kept = asyncio.create_task(_started(work, "kept", log))
        await asyncio.sleep(0)
        gone.cancel()
    await asyncio.wait_for(kept, 1)
    assert log == ["kept"] and gone.cancelled()


async def test_an_answer_that_fails_still_lets_work_start() -> None:
    work = BackgroundWork(max_defer=30)
    log: list[str] = []
    try:
        with work.answering():
            job = asyncio.create_task(_started(work, "job", log))
            await asyncio.sleep(0)
            raise RuntimeError("handler failed")
    except RuntimeError:
        pass
    await asyncio.wait_for(job, 1)
    assert log == ["job"]


async def test_at_most_max_running_jobs_run_at_once_and_the_rest_follow_in_order() -> None:
    work = BackgroundWork(max_running=2)
    finish = asyncio.Event()
    started: list[int] = []
    running = peak = 0

    async def job(i: int) -> None:
        nonlocal running, peak
        async with work.run_later():
            started.append(i)
            running += 1
            peak = max(peak, running)
            await finish.wait()
            running -= 1

    jobs = [asyncio.create_task(job(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert started == [0, 1] and work.waiting == 3
    finish.set()
    await asyncio.wait_for(asyncio.gather(*jobs), 1)
    assert started == [0, 1, 2, 3, 4] and peak == 2


async def test_the_cap_holds_even_for_work_that_waited_past_max_defer() -> None:
    work = BackgroundWork(max_defer=0.05, max_running=1)
    finish = asyncio.Event()
    log: list[str] = []

    async def holder() -> None:
        async with work.run_later():
            log.append("holder")
            await finish.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    late = asyncio.create_task(_started(work, "late", log))
    await asyncio.sleep(0.2)
    assert log == ["holder"]
    finish.set()
    await asyncio.wait_for(asyncio.gather(first, late), 1)
    assert log == ["holder", "late"]
