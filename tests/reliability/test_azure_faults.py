"""Azure faults on initiate, end to end: 429 with and without Retry-After, 5xx, a hanging call, and a call that
timed out on our side but succeeded in Azure.

Whatever Azure does: retries are bounded and honour Retry-After, the policy's history is read before any
second POST so nothing is granted twice, and a request never stays in ``approved``: it ends ``active`` or
``failed`` with a clear message on the card and to the requester.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from jit.justification import parse_justification
from jit.model import AccessRequest, RequestState
from sandbox.arm_faults import ArmCall
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import dm_to, driver_of, request_card, wait_card_decided

ATTEMPTS = 3


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    options = StackOptions(redis_url=redis_server.url, env={"JITBOT_AZURE_TIMEOUT": "1s"})
    async with Stack(options) as running:
        yield running


async def _approve(stack: Stack, reason: str) -> tuple[Message, str]:
    card, request_id = await request_card(stack, ENGINEER, f"ssh web-01 1h {reason}")
    stack.arm.reset_calls()
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    return card, request_id


async def _settled(stack: Stack, request_id: str, card: Message, timeout: float = 20.0) -> AccessRequest:
    await stack.slack.wait_until(
        lambda: None if stack.slack.message(card.channel, card.ts).buttons() else True, timeout=timeout
    )

    async def final() -> AccessRequest:
        request = await stack.runtime.store.get(request_id)
        assert request is not None
        return request

    request = await final()
    for _ in range(100):
        if request.state in (RequestState.ACTIVE, RequestState.FAILED):
            return request
        await asyncio.sleep(0.05)
        request = await final()
    raise AssertionError(f"request stuck in {request.state.value}")


def _posts(stack: Stack) -> list[ArmCall]:
    return [c for c in stack.arm.calls if c.operation == "jit.initiate"]


def _history_records(stack: Stack, request_id: str) -> int:
    policy = stack.arm.inventory.policy_covering(stack.arm.inventory.vm("web-01"))
    assert policy is not None
    return sum(
        1
        for record in policy.requests
        if (parsed := parse_justification(str(record.get("justification", "")))) and parsed.request_id == request_id
    )


def _history_reads_between_posts(stack: Stack) -> bool:
    kinds = [c.operation for c in stack.arm.calls if c.operation.startswith("jit.")]
    posts = [i for i, kind in enumerate(kinds) if kind == "jit.initiate"]
    return all(any(k != "jit.initiate" for k in kinds[a + 1 : b]) for a, b in itertools.pairwise(posts))


@pytest.mark.slow
async def test_429_with_retry_after_is_honoured_then_granted_once(stack: Stack) -> None:
    stack.arm.faults.add("jit.initiate", status=429, retry_after=2)
    card, request_id = await _approve(stack, "throttled with retry-after")

    request = await _settled(stack, request_id, card)

    assert request.state is RequestState.ACTIVE
    posts = _posts(stack)
    assert [p.status for p in posts] == [429, 202]
    assert (posts[1].at - posts[0].at).total_seconds() >= 1.9
    assert _history_records(stack, request_id) == 1 and _history_reads_between_posts(stack)


async def test_429_without_retry_after_backs_off_and_grants_once(stack: Stack) -> None:
    stack.arm.faults.add("jit.initiate", status=429, times=2)
    card, request_id = await _approve(stack, "throttled")

    request = await _settled(stack, request_id, card)

    assert request.state is RequestState.ACTIVE
    assert [p.status for p in _posts(stack)] == [429, 429, 202]
    assert _history_records(stack, request_id) == 1 and _history_reads_between_posts(stack)


async def test_persistent_500s_fail_clearly_after_bounded_retries(stack: Stack) -> None:
    stack.arm.faults.add("jit.initiate", status=500, times=10)
    card, request_id = await _approve(stack, "azure is down")

    request = await _settled(stack, request_id, card)

    assert request.state is RequestState.FAILED
    assert len(_posts(stack)) == ATTEMPTS
    assert _history_records(stack, request_id) == 0 and _history_reads_between_posts(stack)
    shown = str(stack.slack.message(card.channel, card.ts).blocks)
    assert "internal error" in shown.lower()
    dm = await dm_to(stack, ENGINEER, "Nothing is open")
    assert "internal error" in dm.lower()
    stack.arm.faults.clear()


@pytest.mark.slow
async def test_hanging_initiate_times_out_and_fails_clearly(stack: Stack) -> None:
    stack.arm.faults.add("jit.initiate", status=503, delay=4, times=ATTEMPTS)
    card, request_id = await _approve(stack, "azure hangs")

    request = await _settled(stack, request_id, card, timeout=30)

    assert request.state is RequestState.FAILED
    assert "did not answer in time" in (request.failure or "")
    await dm_to(stack, ENGINEER, "did not answer in time")
    assert _history_records(stack, request_id) == 0


@pytest.mark.slow
async def test_timed_out_but_applied_in_azure_is_one_grant(stack: Stack) -> None:
    stack.arm.faults.add("jit.initiate", after_commit=True, delay=3)
    card, request_id = await _approve(stack, "slow but done")

    request = await _settled(stack, request_id, card)

    assert request.state is RequestState.ACTIVE
    assert _history_records(stack, request_id) == 1
    assert len([p for p in _posts(stack) if p.status < 300]) <= 1
    decided = await wait_card_decided(stack, card)
    assert "access open" in str(decided.blocks).lower()


@pytest.mark.slow
async def test_hang_that_commits_late_is_never_granted_twice(stack: Stack) -> None:
    stack.arm.faults.add("jit.initiate", delay=1.8)
    card, request_id = await _approve(stack, "hangs then commits")

    request = await _settled(stack, request_id, card)
    await asyncio.sleep(3)

    assert request.state in (RequestState.ACTIVE, RequestState.FAILED)
    assert _history_records(stack, request_id) == 1, [p.status for p in _posts(stack)]
