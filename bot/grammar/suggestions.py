"""Corrected examples that keep what the user got right, and the "did you mean" checks behind them."""

from __future__ import annotations

import difflib

from bot.grammar.durations import corrected_duration
from bot.grammar.errors import (
    EXAMPLE_DURATION,
    EXAMPLE_PORTS,
    EXAMPLE_REASON,
    EXAMPLE_VM,
    ExampleFn,
    GrammarError,
    request_example,
)
from bot.grammar.ports import looks_like_ports, valid_ports_token
from bot.grammar.sources import valid_source
from bot.grammar.text import BREAK_GLASS_FLAG, clean_free_text, fold, shown
from bot.grammar.vm_spec import valid_vm_spec

SUBCOMMANDS = ("help", "list", "status", "enable", "edit", "disable", "extend", "revoke", "cancel", "report")


def context_example(
    words: list[str], *, ports: str | None = None, vm: str | None = None, break_glass: bool = False
) -> str:
    """A corrected request that keeps every piece the user got right and fills in the rest."""
    folded = [fold(w) for w in words]
    if ports is None:
        ports = folded[0].lower() if folded and valid_ports_token(folded[0].lower()) else EXAMPLE_PORTS
    if vm is None:
        vm = folded[1] if len(folded) > 1 and valid_vm_spec(folded[1]) else EXAMPLE_VM
    typed_duration = corrected_duration(words[2]) if len(words) > 2 else None
    duration = typed_duration or EXAMPLE_DURATION
    rest = words[3:] if typed_duration else words[2:]
    source = None
    if len(rest) >= 2 and fold(rest[0]).lower() == "from":
        source = valid_source(rest[1])
        rest = rest[2:]
    reason = clean_free_text(" ".join(rest)).strip() or EXAMPLE_REASON
    return request_example(ports, vm, duration, source, reason, break_glass)


def missing_ports(words: list[str]) -> bool:
    """`web-01 1h …`: a VM first and a duration second, so only the ports are missing."""
    if len(words) < 2:
        return False
    first = fold(words[0])
    return not looks_like_ports(first.lower()) and valid_vm_spec(first) and corrected_duration(words[1]) is not None


def reject_misspelt_subcommand(words: list[str]) -> None:
    """A first word that is neither ports nor a subcommand but close to one: say which subcommand."""
    first = fold(words[0]).lower()
    if looks_like_ports(first):
        return
    guess = difflib.get_close_matches(first, SUBCOMMANDS, n=1, cutoff=0.75)
    if guess:
        raise GrammarError(
            f"{shown(words[0])} is not a command or a port. Did you mean `/jit {guess[0]}`?",
            f"/jit {guess[0]}" + ("" if guess[0] in ("help", "list", "status", "report") else f" {EXAMPLE_VM}"),
        )


def reject_swapped_ports_and_vm(words: list[str]) -> None:
    """The VM written before the ports: say the order, with both in place."""
    if len(words) < 2:
        return
    first, second = fold(words[0]), fold(words[1])
    if not looks_like_ports(first.lower()) and looks_like_ports(second.lower()):
        vm = first if valid_vm_spec(first) else EXAMPLE_VM
        ports = second.lower() if valid_ports_token(second.lower()) else EXAMPLE_PORTS
        raise GrammarError("The ports come first, then the VM.", context_example(words, ports=ports, vm=vm))


def reject_misspelt_flags(rest: list[str], build: ExampleFn) -> None:
    """An option close to ``--break-glass`` but not it: say how it is spelt."""
    for word in rest:
        folded = fold(word).lower()
        if folded.startswith(("--", "—", "–")) and len(folded) > 2:
            close = difflib.SequenceMatcher(None, folded.lstrip("-—–"), "break-glass").ratio()
            if close >= 0.7:
                others = [w for w in rest if w is not word]
                raise GrammarError(
                    f"{shown(word)} is not an option; the break-glass flag is spelt `{BREAK_GLASS_FLAG}`.",
                    build(" ".join(others)),
                )
