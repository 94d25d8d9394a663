"""The domain's hints (``jit.hints``) written as the ``/jit`` commands people copy."""

from __future__ import annotations

from collections.abc import Sequence

from bot.grammar.text import BREAK_GLASS_FLAG
from jit.durations import humanize
from jit.hints import CommandHint, Hint, RequestHint

_PORT_WORDS = {(22,): "ssh", (3389,): "rdp", (5985, 5986): "winrm"}


def ports_word(ports: Sequence[int]) -> str:
    """``ssh``/``rdp``/``winrm`` where that is exactly what was asked, else the numbers (``22,8080``)."""
    return _PORT_WORDS.get(tuple(ports), ",".join(str(p) for p in ports))


def hint_command(hint: Hint) -> str:
    """The ``/jit`` command line a hint stands for."""
    if isinstance(hint, CommandHint):
        return " ".join(["/jit", hint.command.value, *hint.args])
    return _request_command(hint)


def _request_command(hint: RequestHint) -> str:
    text = f"/jit {ports_word(hint.ports)} {hint.vm} {humanize(hint.duration).replace(' ', '')}"
    if hint.source:
        text += f" from {hint.source}"
    if hint.reason:
        text += f" {hint.reason}"
    return f"{text} {BREAK_GLASS_FLAG}" if hint.break_glass else text
