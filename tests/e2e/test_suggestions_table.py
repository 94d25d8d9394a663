"""Every suggested command, as rendered in Slack, is one the running bot accepts (issue 21, item 1).

Each case types a mistaken ``/jit`` through signed HTTP into the demo world (with its rules file), reads the
ephemeral answer, and checks the kind of message, the suggested command, and that the suggestion — the text shown
in the reply, not a value built in the test — is accepted when typed back: a request is stored. Where no command
would pass, the reply says so and suggests nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape

import pytest

from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.run import DEMO_RULES
from sandbox.slack_workspace import ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of

_TRY = re.compile(r"Try:\n`([^`]*)`")
LIVE = [RequestState.PENDING, RequestState.APPROVED, RequestState.ACTIVE]


@dataclass(frozen=True)
class Case:
    """``user`` types ``/jit typed``; the reply contains ``says`` and suggests ``suggests`` (None: nothing)."""

    typed: str
    says: str
    suggests: str | None
    user: str = ENGINEER


CASES = [
    Case("web-01 1h", "ports come first", "/jit ssh web-01 1h"),
    Case(
        "rdp,8080 rg-web/web-01 90m from 203.0.113.7 INC-1234",
        "Port 3389 is not in the JIT policy",
        "/jit 8080 rg-web/web-01 1h from 203.0.113.7 INC-1234",
    ),
    Case(
        "bastion-win 1h prod down --break-glass",
        "ports come first",
        "/jit rdp bastion-win 1h prod down --break-glass",
        ONCALL,
    ),
    Case(
        "ssh bastion-win 1h login broken --break-glass",
        "Port 22 is not in the JIT policy",
        "/jit rdp bastion-win 1h login broken --break-glass",
        ONCALL,
    ),
    Case("ssh db-01 1h checking logs", "must mention a ticket", "/jit ssh db-01 1h INC-1234 checking logs"),
    Case("ssh web-01 1hr fixing", "did you mean `1h`", "/jit ssh web-01 1h fixing"),
    Case("ssh web-01 -1h restarting", "never negative", "/jit ssh web-01 1h restarting"),
    Case("ssh web01 1h tailing logs", "Did you mean `web-01`", "/jit ssh web-01 1h tailing logs"),
    Case("8080 web-01 3h health check", "at most 1h", "/jit 8080 web-01 1h health check"),
    Case("8080 web-01 48h health", "too long", "/jit 8080 web-01 1h health"),
    Case("ssh build-01 1hr", "not configured", None),
]


@pytest.fixture
async def demo(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world with the sandbox's rules (tickets on rg-data, break-glass for on-call) and room for the
    table's requests within the per-user limits."""
    env = {
        "JITBOT_RULES_FILE": str(DEMO_RULES),
        "JITBOT_MAX_PENDING_PER_USER": "50",
        "JITBOT_COMMANDS_PER_MINUTE": "100",
    }
    async with Stack(StackOptions(redis_url=redis_server.url, env=env)) as running:
        yield running


async def _reply(stack: Stack, user: str, typed: str) -> tuple[str, str | None]:
    """The text of the answer to ``/jit typed`` and the command it suggests, as Slack shows them."""
    before = len(stack.slack.ephemerals_for(user))
    response = await driver_of(stack).slash_command(user, typed)
    assert response.status == 200, response.body
    message = await stack.slack.wait_until(lambda: next(iter(stack.slack.ephemerals_for(user)[before:]), None))
    shown = unescape("\n".join(str(b.get("text", {}).get("text", "")) for b in message.blocks))
    found = _TRY.search(shown)
    return shown, found.group(1) if found else None


@pytest.mark.parametrize("case", CASES, ids=[c.typed for c in CASES])
async def test_the_suggestion_is_accepted_when_typed_back(demo: Stack, case: Case) -> None:
    shown, suggested = await _reply(demo, case.user, case.typed)

    assert case.says.lower() in shown.lower(), shown
    assert suggested == case.suggests, shown
    if suggested is None:
        return
    stored = await demo.runtime.store.by_requester(case.user, LIVE)
    answer, again = await _reply(demo, case.user, suggested.removeprefix("/jit "))
    assert ":warning:" not in answer and again is None, answer
    assert len(await demo.runtime.store.by_requester(case.user, LIVE)) == len(stored) + 1
