"""`/jit enable|edit|disable <vm>`, the Enable JIT button and the policy / disable modals.

Each flow checks admin rights first (a refusal is ephemeral and touches nothing in Azure), opens a "working"
modal at once (the trigger id dies after 3 s), runs the requirements check, then shows the policy modal. A
submission is validated in the ack (inline errors on the right field); the Azure write runs after the ack.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.admin_views import (
    checking_text,
    disabling_text,
    loading_text,
    not_saved_message,
    notice_modal,
    saving_text,
    working_modal,
)
from bot.blocks.common import Message
from bot.blocks.describe import policy_denial_notice
from bot.blocks.inventory import requirements_missing
from bot.blocks.policy_modal import (
    disable_modal,
    policy_disabled_message,
    policy_modal,
    policy_saved_message,
)
from bot.blocks.policy_submission import parse_policy_submission
from bot.handlers.errors import message_for
from bot.handlers.views import (
    clicked_user,
    clicked_value,
    direct_message,
    in_modal,
    open_modal,
    result_external_id,
    tell_clicker,
    update_by_external_id,
    update_modal,
)
from bot.home import HomePublisher
from bot.runtime import Runtime
from jit.admin import AdminService

log = logging.getLogger(__name__)

Mode = Literal["enable", "edit", "disable"]
TITLES: dict[Mode, str] = {"enable": "Enable JIT", "edit": "Edit JIT", "disable": "Disable JIT"}


def _vm_name(vm_id: str) -> str:
    return vm_id.rstrip("/").rsplit("/", 1)[-1] or vm_id


def _saved_mode(view: dict[str, Any]) -> Mode:
    """Which modal was submitted (enable, edit or disable), from the title it was opened with."""
    title = (view.get("title") or {}).get("text")
    return next((mode for mode, shown in TITLES.items() if shown == title), "edit")


class AdminFlows:
    """The admin flows from command or click to saved policy."""

    def __init__(self, runtime: Runtime, admin: AdminService, home: HomePublisher):
        self.runtime = runtime
        self.admin = admin
        self.home = home

    async def start(self, user: str, vm: str, trigger_id: str, *, mode: Mode, push: bool = False) -> None:
        """Refuse non-admins (raises NotAllowed), else open a working modal and fill it once Azure answered."""
        await self.admin.require_admin(user, mode if mode != "edit" else "change", vm)
        title = TITLES[mode]
        first = working_modal(title, loading_text(vm) if mode == "disable" else checking_text(vm))
        view_id = await open_modal(self.runtime.slack, trigger_id, first, push=push)
        try:
            view = await (self._disable_view(user, vm) if mode == "disable" else self._policy_view(user, vm, mode))
        except Exception as exc:
            view = notice_modal(title, message_for(exc))
        await update_modal(self.runtime.slack, view_id, view)

    async def _policy_view(self, user: str, vm: str, mode: Mode) -> dict[str, Any]:
        readiness = await self.admin.readiness(user, vm, action="enable" if mode == "enable" else "change")
        if not readiness.ready:
            return notice_modal(TITLES[mode], requirements_missing(readiness.vm.ref, readiness.reasons))
        denial = readiness.policy_denial
        return policy_modal(
            readiness.vm.ref, readiness.policy, notice=policy_denial_notice(denial) if denial is not None else None
        )

    async def _disable_view(self, user: str, vm: str) -> dict[str, Any]:
        preview = await self.admin.disable_preview(user, vm)
        return disable_modal(preview.vm.ref, preview.open_now, self.runtime.clock.now())

    # -- the Enable JIT button --------------------------------------------------------------------------

    async def ack_click(self, ack: AsyncAck) -> None:
        """Slack only needs to know we got the click."""
        await ack()

    async def enable_clicked(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """The Enable JIT button of the Not configured tab: the same flow as `/jit enable`."""
        user, vm = clicked_user(body), clicked_value(body)
        push = in_modal(body)
        trigger_id = str(body.get("trigger_id", ""))
        try:
            await self.start(user, vm, trigger_id, mode="enable", push=push)
        except Exception as exc:
            await tell_clicker(self.runtime.slack, body, respond, message_for(exc), title=TITLES["enable"])

    # -- the policy modal ------------------------------------------------------------------------------

    async def ack_policy(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Validate in the ack: inline errors on the right inputs, or swap in a "saving" view."""
        view = body.get("view") or {}
        parsed = parse_policy_submission(view.get("state") or {})
        if isinstance(parsed, dict):
            await ack(response_action="errors", errors=parsed)
            return
        saving = working_modal(
            "JIT policy",
            saving_text(_vm_name(str(view.get("private_metadata", "")))),
            external_id=result_external_id(view),
        )
        await ack(response_action="update", view=saving)

    async def save_policy(self, body: dict[str, Any]) -> None:
        """After the ack: write the policy through the gateway, confirm in the modal and by DM, audit."""
        view = body.get("view") or {}
        parsed = parse_policy_submission(view.get("state") or {})
        if isinstance(parsed, dict):
            return
        user, vm_id = clicked_user(body), str(view.get("private_metadata", ""))
        try:
            change = await self.admin.configure(user, vm_id, parsed)
        except Exception as exc:
            result = not_saved_message(_vm_name(vm_id), message_for(exc), retry=await self._retry_word(vm_id, view))
            await update_by_external_id(
                self.runtime.slack, result_external_id(view), notice_modal("JIT not saved", result)
            )
            return
        assert change.after is not None
        saved = policy_saved_message(change.vm.ref, change.after, user)
        await self._after_change(user, saved)
        await update_by_external_id(self.runtime.slack, result_external_id(view), notice_modal("JIT saved", saved))

    async def _retry_word(self, vm_id: str, view: dict[str, Any]) -> str:
        """``enable`` or ``edit``, whichever works on the VM now (``edit`` refuses a VM without a policy); when
        Azure cannot say, the one whose modal the admin just saved."""
        try:
            return (await self.admin.retry_command(vm_id)).value
        except Exception as exc:
            log.warning("admin.retry_lookup_failed", extra={"error": type(exc).__name__})
            return _saved_mode(view)

    async def refuse_submission(self, body: dict[str, Any], reply: Message) -> None:
        """Show why a policy or disable submission did nothing, in the modal the ack left saying "saving…"."""
        view = body.get("view") or {}
        vm_name = _vm_name(str(view.get("private_metadata", "")))
        notice = notice_modal("JIT not changed", not_saved_message(vm_name, reply, retry=_saved_mode(view)))
        await update_by_external_id(self.runtime.slack, result_external_id(view), notice)

    # -- the disable confirmation ----------------------------------------------------------------------

    async def ack_disable(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The admin confirmed: show "removing…" at once; the Azure write runs after the ack."""
        view = body.get("view") or {}
        working = working_modal(
            TITLES["disable"],
            disabling_text(_vm_name(str(view.get("private_metadata", "")))),
            external_id=result_external_id(view),
        )
        await ack(response_action="update", view=working)

    async def confirm_disable(self, body: dict[str, Any]) -> None:
        """Remove the VM from its policy (others untouched), confirm, audit."""
        view = body.get("view") or {}
        user, vm_id = clicked_user(body), str(view.get("private_metadata", ""))
        try:
            change = await self.admin.disable(user, vm_id)
        except Exception as exc:
            result = not_saved_message(_vm_name(vm_id), message_for(exc), retry="disable")
            await update_by_external_id(
                self.runtime.slack, result_external_id(view), notice_modal("JIT not changed", result)
            )
            return
        done = policy_disabled_message(change.vm.ref, user)
        await self._after_change(user, done)
        await update_by_external_id(self.runtime.slack, result_external_id(view), notice_modal("JIT disabled", done))

    async def _after_change(self, user: str, confirmation: Message) -> None:
        """A durable DM copy of the confirmation, and fresh inventory counts on the admins' Homes (the modal
        result is shown last, so once the admin sees it everything else has happened)."""
        try:
            await direct_message(self.runtime.slack, user, confirmation)
        except Exception as exc:
            log.warning("admin.dm_failed", extra={"error": type(exc).__name__})
        try:
            await self.home.refresh_admins()
        except Exception as exc:
            log.warning("admin.home_refresh_failed", extra={"error": type(exc).__name__})
