"""The page's renderers run in Chromium: Slack mrkdwn, Block Kit inputs, and people's text never becoming markup."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from sandbox.run import Sandbox
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

DIRECTORY = {
    "users": {"U0ENGINE01": "alice"},
    "groups": {"S0APPROVRS": "jit-approvers"},
    "channels": {"C0APPROVAL": "jit-approvals"},
}

RENDER_MRKDWN = """async ([text, dir]) => {
  const { renderMrkdwn } = await import("/static/mrkdwn.js");
  const box = document.createElement("div");
  box.append(renderMrkdwn(text, dir));
  return box.innerHTML;
}"""


async def opened(browser: BrowserContext, sandbox: Sandbox) -> Page:
    page = browser.pages[0] if browser.pages else await browser.new_page()
    await page.goto(sandbox.url)
    await expect(page.locator("#user-switcher")).to_have_value(ENGINEER)
    return page


MRKDWN_CASES = [
    ("*Requester*\n<@U0ENGINE01>", '<strong>Requester</strong>\n<span class="mention">@alice</span>'),
    ("_soon_ ~gone~ `web-01`", "<em>soon</em> <s>gone</s> <code>web-01</code>"),
    ("*<@U0ENGINE01>'s access*", '<strong><span class="mention">@alice</span>\'s access</strong>'),
    ("ends <!date^1767225600^{date_short_pretty} at {time}|2026-01-01 00:00 UTC>", "ends 2026-01-01 00:00 UTC"),
    (
        "<#C0APPROVAL> <!subteam^S0APPROVRS> <!here>",
        '<span class="mention">#jit-approvals</span> '
        '<span class="mention">@jit-approvers</span> <span class="mention">@here</span>',
    ),
    ("<https://evil.example|docs>", '<span class="link" title="https://evil.example">docs</span>'),
    ("&lt;script&gt;alert(1)&lt;/script&gt; &amp;", "&lt;script&gt;alert(1)&lt;/script&gt; &amp;"),
    (
        "<img src=x onerror=alert(1)>",
        '<span class="link" title="img src=x onerror=alert(1)">img src=x onerror=alert(1)</span>',
    ),
    ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
    ("Reason\n> fixing deploy", "Reason<blockquote>fixing deploy</blockquote>"),
    (":lock: done :no_such_emoji:", "🔒 done :no_such_emoji:"),
    ("```a *not bold*\n<@U0ENGINE01>```", "<pre>a *not bold*\n&lt;@U0ENGINE01&gt;</pre>"),
]


async def test_mrkdwn_becomes_text_nodes_and_a_few_safe_tags(browser: BrowserContext, sandbox: Sandbox) -> None:
    page = await opened(browser, sandbox)
    rendered = [await page.evaluate(RENDER_MRKDWN, [mrkdwn, DIRECTORY]) for mrkdwn, _ in MRKDWN_CASES]
    assert rendered == [html for _, html in MRKDWN_CASES]


MODAL_BLOCKS: list[dict[str, Any]] = [
    {
        "type": "input",
        "block_id": "a",
        "label": {"type": "plain_text", "text": "Ports"},
        "element": {"type": "plain_text_input", "action_id": "value", "initial_value": "ssh"},
    },
    {
        "type": "input",
        "block_id": "b",
        "label": {"type": "plain_text", "text": "Protocol"},
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": [
                {"text": {"type": "plain_text", "text": "Any"}, "value": "*"},
                {"text": {"type": "plain_text", "text": "TCP"}, "value": "TCP"},
            ],
        },
    },
    {
        "type": "input",
        "block_id": "c",
        "optional": True,
        "label": {"type": "plain_text", "text": "Remove"},
        "element": {
            "type": "checkboxes",
            "action_id": "value",
            "options": [{"text": {"type": "plain_text", "text": "<b>Remove</b>"}, "value": "remove"}],
        },
    },
    {"type": "actions", "block_id": "d", "elements": [{"type": "overflow", "action_id": "more", "options": []}]},
]

ROUND_TRIP = """async ([blocks, errors]) => {
  const { renderBlocks, readInputs, restoreInputs } = await import("/static/blocks.js");
  const root = renderBlocks(blocks, { dir: {}, errors, onButton: () => {} });
  document.body.append(root);
  const initial = readInputs(root);
  root.querySelector('[data-block-id="a"] input').value = "";
  root.querySelector('[data-block-id="b"] select').value = "TCP";
  root.querySelector('[data-block-id="c"] input[type=checkbox]').checked = true;
  const edited = readInputs(root);
  const again = renderBlocks(blocks, { dir: {}, errors, onButton: () => {} });
  restoreInputs(again, edited);
  return {
    initial, edited, restored: readInputs(again),
    error: root.querySelector(".bk-error")?.textContent ?? null,
    label: root.querySelector('[data-block-id="c"] label.bk-choice').textContent,
    unsupported: root.querySelector(".bk-unsupported").textContent,
    bold: root.querySelectorAll("b").length,
  };
}"""


async def test_modal_inputs_are_read_back_as_slack_would_send_them(browser: BrowserContext, sandbox: Sandbox) -> None:
    page = await opened(browser, sandbox)
    result = await page.evaluate(ROUND_TRIP, [MODAL_BLOCKS, {"b": "Pick TCP"}])
    assert result["initial"] == {"a": {"value": "ssh"}, "b": {"value": None}, "c": {"value": []}}
    assert result["edited"] == {"a": {"value": None}, "b": {"value": "TCP"}, "c": {"value": ["remove"]}}
    assert result["restored"] == result["edited"]
    assert result["error"] == "Pick TCP"
    assert result["label"] == " <b>Remove</b>" and result["bold"] == 0
    assert result["unsupported"] == "[overflow is not clickable in the sandbox]"


async def test_what_people_type_is_shown_never_run(browser: BrowserContext, sandbox: Sandbox) -> None:
    page = await opened(browser, sandbox)
    await page.click(f'#sidebar [data-conversation="D{ENGINEER[1:]}"]')
    reason = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> <!channel> <@U0APPROV01>'
    await page.fill("#composer-input", f"/jit ssh web-01 1h {reason}")
    await page.press("#composer-input", "Enter")
    await page.select_option("#user-switcher", APPROVER_1)
    await page.click(f'#sidebar [data-conversation="{APPROVAL_CHANNEL}"]')
    card = page.locator("#messages .msg").filter(has=page.locator('button[data-action-id="jit_approve"]'))
    await expect(card).to_contain_text('<img src=x onerror="window.pwned=1">')
    await expect(card).to_contain_text("<script>window.pwned=2</script> <!channel> <@U0APPROV01>")
    assert await card.locator("img, script").count() == 0
    assert await page.evaluate("window.pwned") is None
