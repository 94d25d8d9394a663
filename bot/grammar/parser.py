"""The entry points: the text after ``/jit`` in, one typed Command out; and the request form's fields one by one.

Each raises GrammarError, and nothing else, whatever the input.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta

from bot.grammar.commands import Command, OpenRequestForm, RequestAccess
from bot.grammar.durations import duration_text, meant_as_duration, parse_access_duration, unit_word
from bot.grammar.errors import EXAMPLE_PORTS, EXAMPLE_VM, UNPARSEABLE, GrammarError, guarded, request_example
from bot.grammar.ports import join_spaced_port_list, looks_like_ports, parse_ports_token, ports_text
from bot.grammar.sources import means_from_me, parse_source_token, valid_source
from bot.grammar.subcommands import (
    parse_extend,
    parse_help,
    parse_list,
    parse_policy_command,
    parse_report,
    parse_request_id_subcommand,
    parse_status,
    policy_mode,
)
from bot.grammar.suggestions import (
    context_example,
    missing_ports,
    reject_misspelt_flags,
    reject_misspelt_subcommand,
    reject_swapped_ports_and_vm,
)
from bot.grammar.text import BREAK_GLASS_SPELLINGS, clean_free_text, fold
from bot.grammar.vm_spec import example_vm, parse_vm_token
from jit.hints import RequestHint, request_hint

MAX_REASON_CHARS = 500
MAX_INPUT_CHARS = 4000
PARSED_REMEMBERED = 256


def parse_command(text: str) -> Command:
    """Turn the text after `/jit` into a Command; raise GrammarError (and nothing else) when it is wrong."""
    try:
        return _parsed(text)
    except GrammarError:
        raise
    except Exception as exc:
        raise GrammarError(UNPARSEABLE, request_example()) from exc


@functools.lru_cache(maxsize=PARSED_REMEMBERED)
def _parsed(text: str) -> Command:
    """Each command is parsed twice, by the ack (to know whether it carries a reply) and by the handler after
    it: the second time comes from here. A parse depends on the text alone and Commands are frozen, so a
    remembered one is exact; a mistake is not remembered (its GrammarError is raised afresh each time)."""
    return _parse(text)


def parse_ports(text: str) -> tuple[int, ...]:
    """The ports field of the request form: ``ssh,8080`` → ``(22, 8080)``; GrammarError when wrong."""
    words = join_spaced_port_list(text.split())
    if len(words) != 1:
        raise GrammarError("Enter the ports as one comma list, like `ssh,8080`.", request_example(ports="ssh,8080"))
    return guarded(lambda: parse_ports_token(words[0], lambda p: context_example(words, ports=p)))


def parse_vm(text: str) -> str:
    """The VM field of the request form: a name, ``rg/vm`` or ``subscription/rg/vm``; GrammarError when wrong."""
    words = text.split()
    if len(words) != 1:
        raise GrammarError(
            "Enter one VM: its name, `rg/vm` or `subscription/rg/vm`.",
            request_example(vm=example_vm(words[0]) if words else EXAMPLE_VM),
        )
    return guarded(lambda: parse_vm_token(words[0], lambda v: request_example(vm=v)))


def parse_window(text: str) -> timedelta:
    """How long access should last (5 minutes to 24 hours); GrammarError when wrong."""
    words = text.split()
    if not words:
        raise GrammarError("Enter how long you need access, like `2h`.", request_example())
    return guarded(lambda: parse_access_duration(words[0], lambda d: request_example(duration=d), words[1:]))


def parse_source(text: str) -> str:
    """One IP address or strict CIDR range (or ``*``), returned in canonical form; GrammarError when wrong."""
    words = text.split()
    if len(words) != 1:
        raise GrammarError(
            "Enter one IP address or CIDR range, like `203.0.113.7` or `10.1.2.0/24`.",
            request_example(source="203.0.113.7"),
        )
    return guarded(lambda: parse_source_token(words[0], lambda s: request_example(source=s)))


def _parse(text: str) -> Command:
    if len(text) > MAX_INPUT_CHARS:
        raise GrammarError(
            f"That command is {len(text)} characters long; keep it under {MAX_INPUT_CHARS}.",
            request_example(),
        )
    tokens = text.split()
    if not tokens:
        return OpenRequestForm()
    head = fold(tokens[0]).lower()
    rest = tokens[1:]
    if head in ("help", "?", "-h", "--help"):
        return parse_help(tokens)
    if head == "list":
        return parse_list(rest)
    if head == "status":
        return parse_status(rest)
    mode = policy_mode(head)
    if mode is not None:
        return parse_policy_command(mode, rest)
    if head == "extend":
        return parse_extend(rest)
    if head in ("revoke", "cancel"):
        return parse_request_id_subcommand(head, rest)
    if head == "report":
        return parse_report(rest)
    return _parse_request(tokens)


def _parse_request(tokens: list[str]) -> RequestAccess:
    flags = [t for t in tokens if fold(t).lower() in BREAK_GLASS_SPELLINGS]
    break_glass = bool(flags)
    words = [t for t in tokens if fold(t).lower() not in BREAK_GLASS_SPELLINGS]
    words = join_spaced_port_list(words)
    try:
        return _parse_request_words(words, break_glass)
    except GrammarError as exc:
        if exc.request is None:
            exc.request = typed_request(exc.example, words)
        raise


def _parse_request_words(words: list[str], break_glass: bool) -> RequestAccess:
    if not words:
        raise GrammarError("Tell me the ports, the VM and how long you need.", request_example(break_glass=break_glass))
    reject_misspelt_subcommand(words)
    reject_swapped_ports_and_vm(words)
    if missing_ports(words):
        _refuse_missing_ports(words, break_glass)
    ports = parse_ports_token(words[0], lambda p: context_example(words, ports=p, break_glass=break_glass))
    typed_ports = ports_text(ports)
    if len(words) < 2:
        raise GrammarError(
            "Tell me which VM and for how long.",
            request_example(ports=typed_ports, break_glass=break_glass),
        )
    vm = parse_vm_token(words[1], lambda v: context_example(words, ports=typed_ports, vm=v, break_glass=break_glass))
    if len(words) < 3:
        raise GrammarError(
            "Tell me how long you need access (at least 5 minutes, at most 24 hours).",
            request_example(ports=typed_ports, vm=vm, break_glass=break_glass),
        )
    rest = words[3:]
    duration = parse_access_duration(
        words[2],
        lambda d: request_example(
            typed_ports, vm, d, *_source_and_reason_after_bad_duration(words), break_glass=break_glass
        ),
        rest,
    )
    typed_duration = duration_text(duration)
    source: str | None = None
    from_me = False
    if len(rest) >= 2 and fold(rest[0]).lower() == "from" and means_from_me(rest[1]):
        from_me = True
        rest = rest[2:]
    elif rest and fold(rest[0]).lower() == "from":
        if len(rest) < 2:
            raise GrammarError(
                "`from` needs an IP address or CIDR range after it.",
                request_example(typed_ports, vm, typed_duration, "203.0.113.7", break_glass=break_glass),
            )
        source = parse_source_token(
            rest[1],
            lambda s: request_example(typed_ports, vm, typed_duration, s, " ".join(rest[2:]), break_glass),
        )
        rest = rest[2:]
    typed_source = "me" if from_me else source
    reject_misspelt_flags(rest, lambda r: request_example(typed_ports, vm, typed_duration, typed_source, r, True))
    reason = clean_free_text(" ".join(rest)).strip()
    if len(reason) > MAX_REASON_CHARS:
        raise GrammarError(
            f"The reason is {len(reason)} characters long; keep it under {MAX_REASON_CHARS} "
            "(link a ticket for the details).",
            request_example(typed_ports, vm, typed_duration, typed_source, reason[:50], break_glass),
        )
    if break_glass and not reason:
        raise GrammarError(
            "Break-glass access needs a reason: it is announced to approvers and on-call and reviewed later.",
            request_example(typed_ports, vm, typed_duration, typed_source, "prod outage INC-1234", True),
        )
    return RequestAccess(ports, vm, duration, source, reason, break_glass, from_me)


def typed_request(example: str, words: list[str]) -> RequestHint | None:
    """The request in ``example`` for the domain to check, when it names a VM the user typed (not the example's);
    without ports when the user's first word was not meant as ports. A request ``from me`` keeps the grammar's
    example, which the domain's suggestion could not carry; so does one whose words are out of place (no duration
    where it belongs), where the VM is only a guess."""
    try:
        command = _parse(example.removeprefix("/jit ")) if example.startswith("/jit ") else None
    except GrammarError:
        return None
    typed = [fold(w) for w in words]
    if not isinstance(command, RequestAccess) or command.from_me:
        return None
    if command.vm.lower() not in {w.lower() for w in typed}:
        return None
    if typed and looks_like_ports(typed[0].lower()) and len(typed) > 2 and not meant_as_duration(typed[2]):
        return None
    ports = command.ports if typed and looks_like_ports(typed[0].lower()) else ()
    return request_hint(ports, command.vm, command.duration, command.source, command.reason, command.break_glass)


def _source_and_reason_after_bad_duration(words: list[str]) -> tuple[str | None, str]:
    """The source and reason the user meant when words[2] is not a duration: `2 hours x` → x, `fixing x` → both;
    a valid `from <source>` is kept."""
    rest = words[3:]
    if unit_word(rest):
        rest = rest[1:]
    elif not re.search(r"[0-9]", fold(words[2])):
        rest = words[2:]
    source = valid_source(rest[1]) if len(rest) >= 2 and fold(rest[0]).lower() == "from" else None
    if source is not None:
        rest = rest[2:]
    return source, " ".join(rest)


def _refuse_missing_ports(words: list[str], break_glass: bool) -> None:
    """`/jit web-01 1h …`: the VM and duration are right and only the ports are missing. The request is parsed as
    if they were there, so everything else is checked (and kept) as usual; the domain picks the VM's ports."""
    parsed = _parse_request_words([EXAMPLE_PORTS, *words], break_glass)
    raise GrammarError(
        f"The ports come first: tell me which ports you need on `{parsed.vm}` (ssh, rdp, winrm, a number or a "
        "comma list).",
        request_example(
            EXAMPLE_PORTS,
            parsed.vm,
            duration_text(parsed.duration),
            "me" if parsed.from_me else parsed.source,
            parsed.reason,
            break_glass,
        ),
        None
        if parsed.from_me
        else request_hint((), parsed.vm, parsed.duration, parsed.source, parsed.reason, break_glass),
    )
