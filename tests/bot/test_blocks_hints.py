"""Hints from the domain become the /jit commands people copy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.blocks.hints import hint_command
from bot.grammar import parse_command
from jit.hints import Command, Hint, command_hint, request_hint


@pytest.mark.parametrize(
    ("hint", "command"),
    [
        (command_hint(Command.STATUS), "/jit status"),
        (command_hint(Command.LIST, "configured"), "/jit list configured"),
        (command_hint(Command.EXTEND, "r-abc", "30m"), "/jit extend r-abc 30m"),
        (request_hint((22,), "web-01", timedelta(hours=1)), "/jit ssh web-01 1h"),
        (request_hint((5985, 5986), "rg/win-01", timedelta(minutes=90)), "/jit winrm rg/win-01 1h30m"),
        (
            request_hint((22, 8080), "web-01", timedelta(hours=2), "203.0.113.7", "INC-1 deploy"),
            "/jit 22,8080 web-01 2h from 203.0.113.7 INC-1 deploy",
        ),
    ],
)
def test_hints_are_written_as_commands_the_grammar_accepts(hint: Hint, command: str) -> None:
    assert hint_command(hint) == command
    parse_command(command.removeprefix("/jit "))
