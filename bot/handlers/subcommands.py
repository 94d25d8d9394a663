"""Subcommands other than a request: help topics, status, and the admin commands."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import Message
from bot.blocks.help import help_message
from bot.grammar import Command, Help
from bot.runtime import Runtime


async def run_subcommand(runtime: Runtime, user: str, command: Command, body: dict[str, Any]) -> Message | None:
    """Run a non-request subcommand for ``user``."""
    if isinstance(command, Help):
        rule = None
        if command.topic:
            vm = await runtime.azure.find_vm(command.topic)
            route = runtime.router.route(vm)
            rule = f"`{vm.ref.name}` follows rule `{route.name}`"
        return help_message(rule=rule, topic=command.topic)
    return help_message()
