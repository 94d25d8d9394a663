"""Subcommands other than a request: help topics, status, the inventory list, the access review and the admin
commands."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import Message
from bot.blocks.help import help_message
from bot.blocks.review import report_sent_notice
from bot.blocks.status import my_status, vm_status
from bot.grammar import Command, Help, ListVms, PolicyCommand, Report, Status
from bot.handlers.admin import AdminFlows
from bot.handlers.inventory import first_page, inventory_page
from bot.home import MINE
from bot.runtime import Runtime
from jit.model import RequestState
from jit.port_survey import held_ports
from jit.rules import explain_route


async def run_subcommand(runtime: Runtime, user: str, command: Command, body: dict[str, Any]) -> Message | None:
    """Run a non-request subcommand for ``user``; None when the answer is a modal rather than a message."""
    if isinstance(command, Help):
        rule = None
        if command.topic:
            rule = explain_route(runtime.router, await runtime.azure.find_vm(command.topic))
        return help_message(rule=rule, topic=command.topic)
    admin = runtime.admin
    if isinstance(command, ListVms):
        return await inventory_page(runtime, admin, user, first_page(command.tab, command.filter))
    if isinstance(command, Status):
        now = runtime.clock.now()
        if command.vm is None:
            mine = await runtime.store.by_requester(user, MINE)
            shared = {r.id: await runtime.service.shared_with(r) for r in mine if r.state is RequestState.ACTIVE}
            return my_status(mine, now=now, shared=shared)
        overview = await admin.overview(command.vm)
        detailed = await runtime.service.approves_for(user, overview.status.vm)
        held = held_ports(overview.holders, viewer=user, detailed=detailed)
        return vm_status(overview.status, held, now=now, detailed=detailed)
    if isinstance(command, Report):
        return report_sent_notice(await runtime.service.report(user, command.days))
    if isinstance(command, PolicyCommand):
        flows = AdminFlows(runtime, admin, runtime.home)
        await flows.start(user, command.vm, str(body.get("trigger_id", "")), mode=command.mode)
        return None
    return help_message()
