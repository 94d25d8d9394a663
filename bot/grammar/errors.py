"""What a wrong command gets back: the problem, and a corrected example the user can copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.grammar.text import BREAK_GLASS_FLAG
from jit.hints import RequestHint

UNPARSEABLE = "I could not understand that command."
EXAMPLE_PORTS = "ssh"
EXAMPLE_VM = "web-01"
EXAMPLE_DURATION = "2h"
EXAMPLE_REASON = "fixing deploy"
_T = TypeVar("_T")
ExampleFn = Callable[[str], str]
"""Builds a corrected example command from the one piece that was wrong."""


class GrammarError(ValueError):
    """What was wrong with a command, and a corrected example the user can copy.

    ``request`` is set on a request that names a VM the person typed: the corrected request (no ports when they
    named none), for the domain to check against that VM's policy and rules before it is suggested; ``example``
    is then only the fallback when that check cannot run."""

    def __init__(self, problem: str, example: str, request: RequestHint | None = None):
        self.problem = problem
        self.example = example
        self.request = request
        super().__init__(f"{problem} Try: {example}")


def request_example(
    ports: str = EXAMPLE_PORTS,
    vm: str = EXAMPLE_VM,
    duration: str = EXAMPLE_DURATION,
    source: str | None = None,
    reason: str = EXAMPLE_REASON,
    break_glass: bool = False,
) -> str:
    """A complete `/jit` request line built from its pieces, the reason kept whole."""
    parts = ["/jit", ports, vm, duration]
    if source:
        parts += ["from", source]
    typed_reason = " ".join(reason.split())
    if typed_reason:
        parts.append(typed_reason)
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
