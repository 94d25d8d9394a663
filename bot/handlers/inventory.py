"""`/jit list` and its tab / More buttons: pages replace the ephemeral message in place, or fill a modal when the
list was opened from App Home (where there is no message to replace).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.admin_views import inventory_modal, stale_page_message, working_modal
from bot.blocks.common import Message
from bot.blocks.inventory import PageRef, decode_page, inventory_message
from bot.handlers.errors import message_for
from bot.handlers.views import clicked_user, clicked_value, container_view, open_modal, update_modal
from bot.runtime import Runtime
from jit.admin import AdminService
from jit.model import JitSupport, VirtualMachine


async def inventory_page(runtime: Runtime, admin: AdminService, user: str, ref: PageRef) -> Message:
    """One page of one tab for ``user`` (admins get the Enable JIT buttons; who holds which port is shown in full
    to the VM's approvers and admins, as "in use" to everyone else)."""

    async def detailed(vm: VirtualMachine) -> bool:
        return await runtime.service.approves_for(user, vm)

    rows = await admin.inventory(viewer=user, detailed=detailed)
    is_admin = await admin.is_admin(user)
    return inventory_message(
        rows, tab=ref.tab, pattern=ref.filter, offset=ref.offset, is_admin=is_admin, now=runtime.clock.now()
    )


def first_page(tab: JitSupport | None, pattern: str | None) -> PageRef:
    """The page `/jit list [tab] [filter]` starts on (Configured when no tab is named, like the portal)."""
    return PageRef(tab or JitSupport.CONFIGURED, pattern, 0)


class InventoryHandlers:
    """``jit_list_tab`` and ``jit_list_more`` clicks, in a message, a list modal or App Home."""

    def __init__(self, runtime: Runtime, admin: AdminService):
        self.runtime = runtime
        self.admin = admin

    async def ack(self, ack: AsyncAck) -> None:
        """Slack only needs to know we got the click."""
        await ack()

    async def page(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Show the page the button names where the button was."""
        user = clicked_user(body)
        ref = decode_page(clicked_value(body))
        view = container_view(body)
        if view is None:
            content = await self._content(user, ref)
            if respond is not None:
                await respond(replace_original=True, **content.as_kwargs())
            return
        slack = self.runtime.slack
        if view.get("type") == "modal":
            content = await self._content(user, ref)
            await update_modal(slack, str(view.get("id", "")), inventory_modal(content))
            return
        trigger_id = str(body.get("trigger_id", ""))
        opened = await open_modal(slack, trigger_id, working_modal("JIT VMs", "Reading the VM inventory from Azure…"))
        content = await self._content(user, ref)
        await update_modal(slack, opened, inventory_modal(content))

    async def _content(self, user: str, ref: PageRef | None) -> Message:
        if ref is None:
            return stale_page_message()
        try:
            return await inventory_page(self.runtime, self.admin, user, ref)
        except Exception as exc:
            return message_for(exc)
