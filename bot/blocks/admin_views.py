"""The small modals around the admin flows: "checking…" while Azure answers, a result or refusal notice, and the
inventory shown in a modal (when it is opened from App Home, where there is no message to page in place).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.views import View

from bot.blocks.common import MAX_VIEW_BLOCKS, Message, code, escape_mrkdwn, message, plain, render, section

LIST_CALLBACK_ID = "jit_list_modal"
NOTICE_CALLBACK_ID = "jit_notice_modal"
WORKING_CALLBACK_ID = "jit_working_modal"
TITLE_LIMIT = 24


def working_modal(title: str, text: str, *, external_id: str | None = None) -> dict[str, Any]:
    """A modal saying what jitbot is doing right now; opened at once so Slack's 3 s trigger never runs out."""
    view = View(
        type="modal",
        callback_id=WORKING_CALLBACK_ID,
        title=plain(title, TITLE_LIMIT),
        close=plain("Close", TITLE_LIMIT),
        external_id=external_id,
        blocks=render([section(f":hourglass_flowing_sand: {text}")], MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


def notice_modal(title: str, content: Message) -> dict[str, Any]:
    """A modal showing a finished result, a refusal or an error (the blocks of an ordinary message)."""
    view = View(
        type="modal",
        callback_id=NOTICE_CALLBACK_ID,
        title=plain(title, TITLE_LIMIT),
        close=plain("Done", TITLE_LIMIT),
        blocks=content.blocks,
    )
    return view.to_dict()


def inventory_modal(page: Message) -> dict[str, Any]:
    """A page of `/jit list` in a modal; its tab and More buttons update the modal in place."""
    view = View(
        type="modal",
        callback_id=LIST_CALLBACK_ID,
        title=plain("JIT VMs", TITLE_LIMIT),
        close=plain("Close", TITLE_LIMIT),
        blocks=page.blocks,
    )
    return view.to_dict()


def checking_text(vm: str) -> str:
    """What the "checking" modal says while the requirements check runs."""
    return (
        f"Checking the requirements for {code(vm, 100)} in Azure (Defender for Servers, deployment model, "
        "network security group)…"
    )


def loading_text(vm: str) -> str:
    """What the "checking" modal says while the VM and its policy are looked up."""
    return f"Looking up {code(vm, 100)} and its JIT policy in Azure…"


def saving_text(vm_name: str) -> str:
    """What the modal says while the policy is written to Azure."""
    return f"Saving the JIT policy of {code(vm_name, 100)} in Azure…"


def disabling_text(vm_name: str) -> str:
    """What the modal says while the VM is removed from its JIT policy."""
    return f"Removing {code(vm_name, 100)} from just-in-time access…"


def stale_page_message() -> Message:
    """A tampered or outdated list button."""
    text = ":warning: That button no longer matches a page of the list. Run `/jit list` again."
    return message("That list page is out of date; run /jit list again.", [section(text)])


def not_saved_message(vm_name: str, problem: Message, *, retry: str = "edit") -> Message:
    """Saving failed: nothing changed, why, and how to try again (``/jit edit`` or ``/jit disable``)."""
    lead = section(
        f":x: The JIT policy of {code(vm_name, 100)} was *not* changed. Fix the problem below and try "
        f"again with `/jit {escape_mrkdwn(retry)} {escape_mrkdwn(vm_name)}`."
    )
    return Message(
        text=f"The JIT policy of {escape_mrkdwn(vm_name)} was not changed.", blocks=[lead.to_dict(), *problem.blocks]
    )
