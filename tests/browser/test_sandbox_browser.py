"""The sandbox clicked through in real headless Chromium: request, approve, grant, remind, expire, enable JIT, report.

Needs Debian's ``chromium`` (``scripts/dev setup`` installs it) and Playwright's Python package; Playwright's
own browser download is never used. Screenshots go to a temporary directory, or to ``docs/img/`` when
``JITBOT_UPDATE_SCREENSHOTS=1`` (that is how the README's pictures are refreshed).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from sandbox.run import Sandbox
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, ENGINEER

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

WAIT_MS = 15_000


async def be(page: Page, user: str) -> None:
    """Switch who "you are" and wait until the page shows that person's workspace."""
    await page.select_option("#user-switcher", user)
    await expect(page.locator("#user-switcher")).to_have_value(user)


async def open_conversation(page: Page, conversation: str) -> None:
    """Click a channel or DM in the sidebar."""
    item = page.locator(f'#sidebar [data-conversation="{conversation}"]')
    await item.click()
    await expect(item).to_have_class("sidebar-item active")


async def type_command(page: Page, text: str) -> None:
    """Type into the composer and press Enter, as in Slack."""
    await page.fill("#composer-input", text)
    await page.press("#composer-input", "Enter")
    await expect(page.locator("#composer-input")).to_have_value("")


async def fast_forward_until(page: Page, target: Locator, tries: int = 6) -> None:
    """Press "Next event" until ``target`` shows up (other scheduled items may come first)."""
    for _ in range(tries):
        if await target.count():
            return
        await page.click("#ff-next", timeout=WAIT_MS)
        with contextlib.suppress(PlaywrightTimeout):
            await target.first.wait_for(timeout=4_000)
    if await target.count():
        return
    raise AssertionError(f"{target} never appeared after {tries} fast-forwards")


async def test_request_approve_grant_remind_expire_and_enable_jit(
    sandbox: Sandbox, browser: BrowserContext, shots: Path
) -> None:
    expect.set_options(timeout=WAIT_MS)
    page = browser.pages[0] if browser.pages else await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(sandbox.url)

    # alice asks for SSH on web-01 from her DM with the app
    await be(page, ENGINEER)
    alice_dm = "D" + ENGINEER[1:]
    await open_conversation(page, alice_dm)
    await type_command(page, "/jit ssh web-01 1h fixing deploy")
    confirmation = page.locator("#messages .msg.ephemeral").filter(has_text="web-01")
    await expect(confirmation).to_be_visible()
    await expect(confirmation).to_contain_text("Only visible to you")
    await page.screenshot(path=shots / "sandbox-request.png")

    # bob finds it on his App Home, then approves it on the card in #jit-approvals
    await be(page, APPROVER_1)
    await open_conversation(page, "D" + APPROVER_1[1:])
    await page.click('#conv-tabs [data-tab="home"]')
    home = page.locator("#home")
    await expect(home).to_contain_text("Waiting for your approval (1)")
    await expect(home.locator('button[data-action-id="jit_approve"]')).to_be_visible()
    await page.screenshot(path=shots / "sandbox-home.png")
    await open_conversation(page, APPROVAL_CHANNEL)
    card = page.locator("#messages .msg").filter(has=page.locator('button[data-action-id="jit_approve"]'))
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text("web-01")
    await expect(card).to_contain_text("@alice")
    await expect(card).to_contain_text("Defender: 2 unhealthy recommendations")
    await expect(card).to_contain_text("Public IP 20.61.10.4")
    await expect(card).to_contain_text("Requester's history here")
    await page.screenshot(path=shots / "sandbox-approval-card.png")
    await card.locator('button[data-action-id="jit_approve"]').click()

    # the card changes in place, and Azure shows the NSG rule open
    approved = page.locator("#messages .msg").filter(has_text="web-01")
    await expect(approved.locator("button[data-action-id=jit_approve]")).to_have_count(0)
    await expect(approved).to_contain_text("@bob")
    await expect(approved).to_contain_text("(edited)")
    open_rule = page.locator('#azure-open-rules [data-vm="web-01"][data-port="22"]')
    await expect(open_rule).to_be_visible()
    await expect(open_rule).to_contain_text("203.0.113.10/32")
    await expect(page.locator("#azure-activity")).to_contain_text("opened web-01:22")
    await page.screenshot(path=shots / "sandbox-approved.png")

    # dave enables JIT on db-02 through the modal
    await be(page, ADMIN)
    await expect(page.locator('#azure-vms [data-vm="db-02"]')).to_have_attribute("data-status", "not_configured")
    await open_conversation(page, "D" + ADMIN[1:])
    await type_command(page, "/jit enable db-02")
    modal = page.locator("#modal")
    await expect(modal.locator("#modal-submit")).to_have_text("Save")
    await expect(modal.locator('input[data-block-id="port_0_number"]')).to_have_value("22")
    await modal.locator('input[data-block-id="port_0_sources"]').fill("10.0.0.0/8")
    for row in (1, 2, 3):
        await modal.locator(f'[data-input][data-block-id="port_{row}_remove"] input').check()
    await modal.locator(".modal-body").evaluate("body => { body.scrollTop = 0; }")
    await page.screenshot(path=shots / "sandbox-enable-modal.png")
    await modal.locator("#modal-submit").click()
    await expect(modal.locator("h2")).to_have_text("JIT saved")
    await expect(page.locator('#azure-vms [data-vm="db-02"]')).to_have_attribute("data-status", "configured")
    await expect(page.locator("#azure-policies")).to_contain_text("db-02: 22 ≤3h from 10.0.0.0/8")
    await page.screenshot(path=shots / "sandbox-enabled.png")
    await modal.locator("#modal-close").click()
    await expect(page.locator("#modal-root")).to_be_hidden()

    # back to alice: fast-forward to the reminder, then to the end of the window
    await be(page, ENGINEER)
    await open_conversation(page, alice_dm)
    reminder = page.locator("#messages .msg").filter(has_text="closes")
    await fast_forward_until(page, reminder)
    await expect(reminder.locator('button[data-action-id="jit_extend"]')).to_be_visible()
    ended = page.locator("#messages .msg").filter(has_text="ended")
    await fast_forward_until(page, ended)
    await expect(open_rule).to_have_count(0)
    await expect(page.locator("#azure-activity")).to_contain_text("closed web-01:22")
    await page.screenshot(path=shots / "sandbox-expired.png")

    # bob asks for the week's access review: the summary, then the chart (drawn) and the CSV in its thread
    await be(page, APPROVER_1)
    await open_conversation(page, "D" + APPROVER_1[1:])
    await type_command(page, "/jit report 7d")
    chart = page.locator("#messages img.file-image")
    await expect(chart).to_be_visible()
    await expect(chart).to_have_js_property("complete", True)
    assert await chart.evaluate("image => image.naturalWidth") > 0
    await expect(page.locator("#messages .file-link[download]")).to_have_attribute("download", re.compile(r"\.csv$"))
    await expect(page.locator("#messages")).to_contain_text("web-01")
    await chart.scroll_into_view_if_needed()
    await page.screenshot(path=shots / "sandbox-report.png")

    # alice asks "from me": the link opens jitbot's one-time page, and Confirm makes the request from her address
    await be(page, ENGINEER)
    await open_conversation(page, alice_dm)
    await type_command(page, "/jit ssh web-02 1h from me checking disks")
    await expect(page.locator("#messages .msg.ephemeral").filter(has_text="confirmation page")).to_be_visible()
    assert sandbox.stack is not None
    link = next(m.text for m in reversed(sandbox.stack.slack.ephemerals_for(ENGINEER)) if "/from-me/" in m.text)
    url = re.search(r"https?://\S+/from-me/\S+", link)
    assert url is not None
    confirm = await browser.new_page()
    await confirm.goto(url.group(0))
    await expect(confirm.locator("h1")).to_contain_text("Confirm")
    await expect(confirm.locator(".address")).to_have_text("127.0.0.1")
    await confirm.screenshot(path=shots / "sandbox-from-me.png")
    await confirm.click("button[type=submit]")
    await expect(confirm.locator("h1")).to_have_text("Confirmed")
    await confirm.close()
    assert sandbox.stack.arm.jit.grants == []
    assert errors == []
