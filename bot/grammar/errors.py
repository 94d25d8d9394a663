"""What a wrong command gets back: the problem, and a corrected example the user can copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.grammar.text import BREAK_GLASS_FLAG

UNPARSEABLE = "I could not understand that command."
EXAMPLE_PORTS = "ssh"
EXAMPLE_VM = "web-01"
EXAMPLE_DURATION = "2h"
EXAMPLE_REASON = "fixing deploy"
_T = TypeVar("_T")
ExampleFn = Callable[[str], str]
"""Builds a corrected example command from the one piece that was wrong."""


class GrammarError(ValueError):
    """What was wrong with a command, and a corrected example the user can copy."""

    def __init__(self, problem: str, example: str):
        self.problem = problem
        self.example = example
        super().__init__(f"{problem} Try: {example}")


def request_example(
    ports: str = EXAMPLE_PORTS,
    vm: str = EXAMPLE_VM,
    duration: str = EXAMPLE_DURATION,
    source: str | None = None,
    reason: str = EXAMPLE_REASON,
    break_glass: bool = False,
) -> str:
    """A complete `/jit` request line built from its pieces, with the reason shortened to fit."""
    parts = ["/jit", ports, vm, duration]
    if source:
        parts += ["from", source]
    short_reason = " ".join(reason.split())
    if len(short_reason) > 60:
        short_reason = short_reason[:59].rstrip() + "…"
    if short_reason:
        parts.append(short_reason)
    if break_glass:
        parts.append(BREAK_GLASS_FLAG)
    return " ".join(parts)


def guarded(parse: Callable[[], _T]) -> _T:
    """Run ``parse`` so that whatever goes wrong comes out as a GrammarError."""
    try:
        return parse()
    except GrammarError:
        raise
    except Exception as exc:
        raise GrammarError(UNPARSEABLE, request_example()) from exc
