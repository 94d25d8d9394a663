"""`/jit … from me`: a one-time page on the public port; the confirming POST's address becomes the source."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import aiohttp
import pytest

from jit.clock import ManualClock
from jit.store.audit import AuditRecord
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of, ephemeral_reply, wait_card_decided

LINK = re.compile(r"http://127\.0\.0\.1:[0-9]+/from-me/[A-Za-z0-9_-]+")
PROXY_ENV = {"JITBOT_TRUSTED_PROXIES": "127.0.0.1"}


@pytest.fixture
async def proxied_stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The bot behind a reverse proxy on loopback (the tests' own client plays the proxy)."""
    async with Stack(StackOptions(redis_url=redis_server.url, env=PROXY_ENV)) as running:
        yield running


async def link_for(stack: Stack, text: str = "ssh web-01 1h from me fixing deploy") -> str:
    """Type the command as the engineer; returns the link from the ephemeral reply."""
    response = await driver_of(stack).slash_command(ENGINEER, text)
    assert response.status == 200, response.body
    reply = await ephemeral_reply(stack, ENGINEER, "/from-me/")
    found = LINK.search(reply)
    assert found, reply
    return found.group(0)


async def fetch(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str, Mapping[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text(), dict(response.headers)


async def confirm(url: str, token: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    """POST the page's form, as its button does."""
    action = url.rsplit("/", 1)[0] + "/confirm"
    async with aiohttp.ClientSession() as session, session.post(action, data={"token": token}, headers=headers) as r:
        return r.status, await r.text()


async def audited(stack: Stack, event: str) -> list[AuditRecord]:
    return [r async for r in stack.runtime.audit.entries() if r.event == event]


def cards(stack: Stack) -> list[str]:
    return [
        m.ts
        for m in stack.slack.messages_in(APPROVAL_CHANNEL)
        if any(b.action_id == "jit_approve" for b in m.buttons())
    ]


async def test_get_changes_nothing_and_the_confirming_post_is_the_source(proxied_stack: Stack) -> None:
    stack = proxied_stack
    url = await link_for(stack)
    token = url.rsplit("/", 1)[1]
    forwarded = {"X-Forwarded-For": "203.0.113.66, 198.51.100.23"}

    for _ in range(3):  # Slack's unfurler, a chat preview, the person
        status, page, headers = await fetch(url, forwarded)
        assert status == 200
        assert "alice" in page and ENGINEER in page and "web-01" in page and "198.51.100.23" in page
        assert 'name="token"' in page and "<script" not in page
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer" and "no-store" in headers["Cache-Control"]
    assert cards(stack) == [] and await stack.runtime.store.by_requester(ENGINEER) == []
    assert await audited(stack, "source_link_confirmed") == []

    status, page = await confirm(url, token, forwarded)

    assert status == 200 and "Confirmed" in page and "198.51.100.23" in page
    card = await stack.slack.wait_for_message(
        APPROVAL_CHANNEL, lambda m: any(b.action_id == "jit_approve" for b in m.buttons())
    )
    request_id = str(next(b.value for b in card.buttons() if b.action_id == "jit_approve"))
    await ephemeral_reply(stack, ENGINEER, request_id)
    stack.arm.reset_calls()
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)
    [initiate] = [c for c in stack.arm.writes() if c.operation == "jit.initiate"]
    port = initiate.body["virtualMachines"][0]["ports"][0]
    assert port["allowedSourceAddressPrefix"] in ("198.51.100.23", "198.51.100.23/32")
    [issued] = await audited(stack, "source_link_issued")
    [confirmed] = await audited(stack, "source_link_confirmed")
    assert issued.actor == confirmed.actor == ENGINEER
    assert confirmed.detail["address"] == "198.51.100.23"
    assert token not in str([r.to_json() async for r in stack.runtime.audit.entries()])


async def test_a_used_link_is_refused_with_a_friendly_page(proxied_stack: Stack) -> None:
    stack = proxied_stack
    url = await link_for(stack)
    token = url.rsplit("/", 1)[1]
    forwarded = {"X-Forwarded-For": "198.51.100.23"}
    assert (await confirm(url, token, forwarded))[0] == 200

    status, page = await confirm(url, token, {"X-Forwarded-For": "198.51.100.99"})
    shown, again, _ = await fetch(url)

    assert status == 410 and "already used" in page
    assert shown == 410 and "already used" in again
    assert len(await stack.runtime.store.by_requester(ENGINEER)) == 1
    [refused] = await audited(stack, "source_link_refused")
    assert refused.detail["why"] == "used" and refused.detail["address"] == "198.51.100.99"


async def test_a_wrong_token_is_refused_and_makes_nothing(proxied_stack: Stack) -> None:
    stack = proxied_stack
    url = await link_for(stack)
    wrong = "A" * 43

    status, page = await confirm(url, wrong)
    shown, _, _ = await fetch(url.rsplit("/", 1)[0] + "/" + wrong)

    assert (status, shown) == (404, 404) and "not valid" in page
    assert (await confirm(url, "<script>"))[0] == 404
    assert await stack.runtime.store.by_requester(ENGINEER) == []
    assert await audited(stack, "source_link_confirmed") == []


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(stack: Stack) -> None:
    url = await link_for(stack)
    token = url.rsplit("/", 1)[1]
    spoofed = {"X-Forwarded-For": "198.51.100.23"}

    _, page, _ = await fetch(url, spoofed)
    status, _ = await confirm(url, token, spoofed)

    assert "127.0.0.1" in page and "198.51.100.23" not in page and "private" in page
    assert status == 200
    [confirmed] = await audited(stack, "source_link_confirmed")
    assert confirmed.detail["address"] == "127.0.0.1"
    [request] = await stack.runtime.store.by_requester(ENGINEER)
    assert request.source in ("127.0.0.1", "127.0.0.1/32")


async def test_an_expired_link_is_refused(redis_server: RedisServer) -> None:
    clock = ManualClock()
    async with Stack(StackOptions(redis_url=redis_server.url, clock=clock, env=PROXY_ENV)) as stack:
        url = await link_for(stack)
        clock.advance(timedelta(minutes=10, seconds=1))

        status, page = await confirm(url, url.rsplit("/", 1)[1], {"X-Forwarded-For": "198.51.100.23"})

        assert status == 410 and "expired" in page
        assert await stack.runtime.store.by_requester(ENGINEER) == []
        [refused] = await audited(stack, "source_link_refused")
        assert refused.detail["why"] == "expired"


async def test_socket_mode_says_the_option_is_not_available(redis_server: RedisServer) -> None:
    async with Stack(StackOptions(redis_url=redis_server.url, socket_mode=True)) as stack:
        await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h from me")

        reply = await ephemeral_reply(stack, ENGINEER, "from me")

        assert "not available" in reply and "Socket Mode" in reply and "from 203.0.113.7" in reply
        assert await stack.runtime.store.by_requester(ENGINEER) == []


async def test_without_a_public_url_the_option_is_not_configured(redis_server: RedisServer) -> None:
    async with Stack(StackOptions(redis_url=redis_server.url, env={"JITBOT_PUBLIC_URL": ""})) as stack:
        await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h from me")

        reply = await ephemeral_reply(stack, ENGINEER, "from me")

        assert "not configured" in reply and "JITBOT_PUBLIC_URL" in reply
        [refused] = await audited(stack, "source_link_refused")
        assert refused.detail["why"] == "no_public_url"


async def test_a_trusted_proxy_that_names_nobody_is_refused_and_the_link_still_works(proxied_stack: Stack) -> None:
    stack = proxied_stack
    url = await link_for(stack)
    token = url.rsplit("/", 1)[1]

    status, page = await confirm(url, token)

    assert status == 400 and "cannot tell your address" in page
    [refused] = await audited(stack, "source_link_refused")
    assert refused.detail["why"] == "no_address"
    assert (await confirm(url, token, {"X-Forwarded-For": "198.51.100.23"}))[0] == 200


async def test_me_in_the_request_form_sends_the_link_and_confirming_makes_the_request(stack: Stack) -> None:
    await driver_of(stack).slash_command(ENGINEER, "")
    view = await stack.slack.wait_until(
        lambda: next((v for v in stack.slack.views_for(ENGINEER) if v.callback_id == "jit_request_modal"), None)
    )
    values = {"request_ports": "ssh", "request_vm": "web-01", "request_duration": "45m", "request_reason": "form"}

    response = await driver_of(stack).submit_view(ENGINEER, view, {**values, "request_source": "me"})

    assert response.status == 200
    reply = await ephemeral_reply(stack, ENGINEER, "/from-me/")
    found = LINK.search(reply)
    assert found, reply
    assert cards(stack) == [], "nothing is asked before the address is confirmed"
    status, _ = await confirm(found.group(0), found.group(0).rsplit("/", 1)[1])
    assert status == 200
    (request,) = await stack.runtime.store.by_requester(ENGINEER)
    assert request.source == "127.0.0.1" and request.reason == "form"
