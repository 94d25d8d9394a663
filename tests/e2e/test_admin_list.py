"""`/jit list`: the portal's three tabs, their columns, filters, and paging within Slack's block limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.blocks.common import MAX_MESSAGE_BLOCKS
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import ADMIN, ENGINEER
from sandbox.stack import Stack
from tests.e2e.portal_support import BIG_COUNT, big_inventory, blocks_text, new_ephemeral, running_stack


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world; lazy listeners finish before it closes."""
    async with running_stack(redis_server.url) as running:
        yield running


@pytest.fixture
async def big(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """A stack whose Not configured tab needs three pages."""
    async with running_stack(redis_server.url, inventory=big_inventory()) as running:
        yield running


def rows(message: Message) -> dict[str, str]:
    """The VM rows of a list page: name (its ``*name*`` heading) → the row's text."""
    found: dict[str, str] = {}
    for block in message.blocks:
        text = str((block.get("text") or {}).get("text", "")) if block.get("type") == "section" else ""
        if text.startswith("*") and " · " in text.split("\n")[0]:
            found[text.split("*")[1]] = text
    return found


def names_on(message: Message, prefix: str) -> list[str]:
    """The VM names on a list page that start with ``prefix``, in page order."""
    return [name for name in rows(message) if name.startswith(prefix)]


async def list_page(stack: Stack, user: str, text: str) -> Message:
    """Run ``/jit {text}`` and return the ephemeral page it shows."""
    assert stack.driver is not None
    seen = len(stack.slack.ephemerals_for(user))
    ack = await stack.driver.slash_command(user, text)
    assert ack.status == 200 and ack.acked_in_time
    return await new_ephemeral(stack, user, seen)


async def test_configured_tab_has_the_portal_columns(stack: Stack) -> None:
    page = await list_page(stack, ENGINEER, "list")
    text = blocks_text(page.blocks)
    assert names_on(page, "") == ["analytics-win", "bastion-win", "db-01", "web-01", "web-02"]
    assert "Configured (5)" in text and "Not configured (3)" in text and "Unsupported (5)" in text
    web01 = rows(page)["web-01"]
    assert "22 (SSH) · any protocol · from `*` (any address) · up to 3h" in web01
    assert "8080 · any protocol · from `*` (any address) · up to 1h" in web01
    assert "1 approved in the last 7 days" in web01 and "last access <!date^" in web01
    assert f"by <@{ENGINEER}>" in web01, "the demo history names the sandbox's own people"
    db01 = rows(page)["db-01"]
    assert "`10.0.0.0/8`, `203.0.113.0/24` · up to 2h" in db01 and f"by <@{ADMIN}>" in db01
    assert "jitbot-managed-identity" not in text


async def test_not_configured_tab_offers_enable_only_to_admins(stack: Stack) -> None:
    engineer = await list_page(stack, ENGINEER, "list not-configured")
    assert names_on(engineer, "") == ["build-01", "db-02", "vault-01"]
    assert [b for b in engineer.buttons() if b.action_id == "jit_enable"] == []
    assert "Only jitbot admins can enable JIT" in blocks_text(engineer.blocks)
    admin = await list_page(stack, ADMIN, "list not-configured")
    assert sorted(b.value or "" for b in admin.buttons() if b.action_id == "jit_enable") == sorted(
        stack.arm.inventory.vm(n).id for n in ("build-01", "db-02", "vault-01")
    )


async def test_unsupported_tab_says_why_and_how_to_fix(stack: Stack) -> None:
    page = await list_page(stack, ENGINEER, "list unsupported")
    assert names_on(page, "") == ["lab-01", "lab-02", "lab-win", "legacy-app", "old-classic"]
    sections = rows(page)
    assert "No network security group" in sections["legacy-app"]
    assert "classic" in sections["old-classic"]
    assert "Defender for Servers is not enabled" in sections["lab-01"]
    assert "network security group" in sections["lab-02"] and "Defender for Servers" in sections["lab-02"]
    assert all("_Fix:_" in s for s in sections.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list rg-data", ["analytics-win", "db-01"]),
        ("list configured northeurope", ["analytics-win", "db-01"]),
        ("list configured WEB-0", ["web-01", "web-02"]),
        ("list configured WEB", ["bastion-win", "web-01", "web-02"]),
        ("list not-configured rg-web", ["build-01"]),
        ("list unsupported lab-*", ["lab-01", "lab-02", "lab-win"]),
        ("list configured nothing-matches", []),
    ],
)
async def test_filter_matches_name_resource_group_or_region(stack: Stack, text: str, expected: list[str]) -> None:
    page = await list_page(stack, ENGINEER, text)
    assert names_on(page, "") == expected
    if not expected:
        assert "No VMs matching" in blocks_text(page.blocks)


async def test_tab_buttons_switch_the_page_in_place(stack: Stack) -> None:
    assert stack.driver is not None
    page = await list_page(stack, ENGINEER, "list rg-web")
    assert names_on(page, "") == ["bastion-win", "web-01", "web-02"]
    await stack.driver.click(ENGINEER, page, "jit_list_tab:unsupported")
    await stack.slack.wait_until(lambda: len(page.versions) == 2)
    assert names_on(page, "") == ["legacy-app", "old-classic"]
    assert len(stack.slack.ephemerals_for(ENGINEER)) == 1


async def test_more_pages_through_a_large_tab_within_the_block_limit(big: Stack) -> None:
    assert big.driver is not None
    page = await list_page(big, ADMIN, "list not-configured")
    shown = names_on(page, "app-")
    assert shown == [f"app-{i:02d}" for i in range(10)]
    assert "Showing 1–10 of 25" in blocks_text(page.blocks)
    for version, expected_end in ((2, 20), (3, 25)):
        assert len(page.blocks) <= MAX_MESSAGE_BLOCKS
        await big.driver.click(ADMIN, page, "jit_list_more")
        await big.slack.wait_until(lambda: len(page.versions) >= version)  # noqa: B023
        shown += names_on(page, "app-")
        assert f"of {BIG_COUNT}" in blocks_text(page.blocks) and f"–{expected_end} of" in blocks_text(page.blocks)
    assert shown == [f"app-{i:02d}" for i in range(BIG_COUNT)]
    assert [b for b in page.buttons() if b.action_id == "jit_list_more"] == []
    assert len([b for b in page.buttons() if b.action_id == "jit_enable"]) == 5
    assert len(big.slack.ephemerals_for(ADMIN)) == 1


async def test_paging_keeps_the_filter(big: Stack) -> None:
    assert big.driver is not None
    page = await list_page(big, ENGINEER, "list not-configured northeurope")
    assert names_on(page, "app-") == [f"app-{i:02d}" for i in range(0, 20, 2)]
    await big.driver.click(ENGINEER, page, "jit_list_more")
    await big.slack.wait_until(lambda: len(page.versions) == 2)
    assert names_on(page, "app-") == ["app-20", "app-22", "app-24"]
    unsupported = await list_page(big, ENGINEER, "list unsupported")
    assert names_on(unsupported, "") == ["naked"]


async def test_a_tampered_page_button_is_answered_not_obeyed(stack: Stack) -> None:
    assert stack.driver is not None
    page = await list_page(stack, ENGINEER, "list")
    await stack.driver.click(ENGINEER, page, "jit_list_tab:configured", "x:1:<!channel>")
    await stack.slack.wait_until(lambda: len(page.versions) == 2)
    assert "no longer matches" in blocks_text(page.blocks)
    assert "<!channel>" not in blocks_text(page.blocks)
