"""Shared steps for the lifecycle end-to-end tests: a stack on a hand-moved clock with an optional rules file,
granting access, finding cards and DMs, and reading the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path

from jit.clock import ManualClock
from jit.model import AccessRequest
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import dm_to, driver_of, request_card, wait_card_decided


@contextlib.asynccontextmanager
async def lifecycle_stack(
    redis_server: RedisServer,
    clock: ManualClock,
    tmp_path: Path,
    *,
    rules: str | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """The demo world on ``clock``; ``rules`` is written to a file that JITBOT_RULES_FILE points at."""
    settings = {"JITBOT_REMIND_BEFORE": "15m", "JITBOT_REQUEST_TTL": "60m", **(env or {})}
    if rules is not None:
        path = tmp_path / "rules.yaml"
        path.write_text(rules, encoding="utf-8")
        settings["JITBOT_RULES_FILE"] = str(path)
    options = StackOptions(redis_url=redis_server.url, clock=clock, env=settings, expire_interval=0.1)
    async with Stack(options) as running:
        yield running


async def advance(stack: Stack, clock: ManualClock, by: timedelta) -> None:
    """Move time and let the scheduler look at once."""
    clock.advance(by)
    stack.runtime.scheduler.wake()


async def granted(
    stack: Stack, text: str = "ssh web-01 1h deploy", user: str = ENGINEER, approver: str = APPROVER_1
) -> tuple[Message, str]:
    """``user`` asks, ``approver`` approves, the DM arrives: the card and the request id."""
    card, request_id = await request_card(stack, user, text)
    await driver_of(stack).click(approver, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)
    await dm_to(stack, user, "is open")
    return card, request_id


async def current(stack: Stack, request_id: str) -> AccessRequest:
    """The request as stored now."""
    request = await stack.runtime.store.get(request_id)
    assert request is not None
    return request


async def events(stack: Stack, request_id: str) -> list[str]:
    """The audit events of one request, oldest first."""
    return [record.event for record in await stack.runtime.audit.for_request(request_id)]


def dm_with_button(stack: Stack, user: str, action_id: str, value: str) -> Message | None:
    """The latest DM to ``user`` that carries the button ``action_id`` for ``value``."""
    found = [
        m for m in stack.slack.dms_with(user) if any(b.action_id == action_id and b.value == value for b in m.buttons())
    ]
    return found[-1] if found else None


def posts(stack: Stack, channel: str, contains: str) -> list[Message]:
    """Bot messages in ``channel`` whose text or blocks contain ``contains`` (case-insensitive)."""
    return [m for m in stack.slack.messages_in(channel) if contains.lower() in (m.text + str(m.blocks)).lower()]


async def wait_post(stack: Stack, channel: str, predicate: Callable[[Message], bool], timeout: float = 5.0) -> Message:
    """Wait for a bot message in ``channel`` that satisfies ``predicate``."""

    def find() -> Message | None:
        return next((m for m in reversed(stack.slack.messages_in(channel)) if predicate(m)), None)

    return await stack.slack.wait_until(find, timeout)


def has_button(action_id: str, value: str | None = None) -> Callable[[Message], bool]:
    """A predicate: the message currently has that button (with that value, when given)."""
    return lambda m: any(b.action_id == action_id and (value is None or b.value == value) for b in m.buttons())


def initiates(stack: Stack) -> int:
    """How many JIT initiates Azure has seen since the last reset."""
    return len([c for c in stack.arm.calls if c.operation == "jit.initiate"])


def jit_allow_rules(stack: Stack, vm: str = "web-01", nsg: str = "web-nsg", group: str = "rg-web") -> list[str]:
    """The JIT allow rules for the default source in the VM's NSG."""
    found = stack.arm.inventory.nsg(stack.arm.inventory.vm(vm).subscription_id, group, nsg)
    assert found is not None
    return [str(r) for r in found.rules if "203.0.113.10" in str(r) and "Allow" in str(r) and "JIT" in str(r)]


async def wait_request(
    stack: Stack, request_id: str, predicate: Callable[[AccessRequest], bool], timeout: float = 10.0
) -> AccessRequest:
    """Poll the store until the request satisfies ``predicate``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        request = await current(stack, request_id)
        if predicate(request):
            return request
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                f"request {request_id} never got there; it is {request.state.value} {dict(request.extra)}"
            )
        await asyncio.sleep(0.02)


async def poll(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` (state outside Slack: Azure, the schedule) until it holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.02)


async def posted_card(stack: Stack, user: str, text: str) -> tuple[Message, str]:
    """``request_card``, then wait until the card's ts is saved, so moving the clock cannot re-post it."""
    card, request_id = await request_card(stack, user, text)
    await wait_request(stack, request_id, lambda r: r.card_ts is not None)
    return card, request_id
