"""The `/jit` command language: text in, one typed Command out, or a friendly GrammarError.

Everything a person can type is decided here, before any Azure or Redis call, so that malformed or
hostile input (bad names, Unicode look-alikes, oversized text) never reaches the services. The parser
never raises anything but GrammarError, whatever the input.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from jit.durations import DurationError, humanize, parse_duration
from jit.model import MIN_ACCESS, WELL_KNOWN_PORTS, JitSupport

MAX_COMMAND_ACCESS = timedelta(hours=24)
MAX_REASON_CHARS = 500
MAX_PORTS = 20
MAX_FILTER_CHARS = 100
MAX_TOPIC_CHARS = 100
MAX_INPUT_CHARS = 4000

EXAMPLE_PORTS = "ssh"
EXAMPLE_VM = "web-01"
EXAMPLE_DURATION = "2h"
EXAMPLE_REASON = "fixing deploy"
EXAMPLE_REQUEST_ID = "jr-4kQ9xZ2mP7sT"

BREAK_GLASS_FLAG = "--break-glass"
_BREAK_GLASS_SPELLINGS = frozenset({"--break-glass", "—break-glass", "–break-glass", "--breakglass"})

_VM_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_])?", re.ASCII)
_RESOURCE_GROUP = re.compile(r"[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]", re.ASCII)
_SUBSCRIPTION = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
_FILTER = re.compile(r"[A-Za-z0-9_().*/-]+", re.ASCII)
_PORT_NUMBER = re.compile(r"[0-9]{1,5}", re.ASCII)
_IP_CHARS = re.compile(r"[0-9A-Fa-f.:/]+", re.ASCII)
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

_TAB_NAMES: dict[str, JitSupport] = {
    "configured": JitSupport.CONFIGURED,
    "not-configured": JitSupport.NOT_CONFIGURED,
    "not_configured": JitSupport.NOT_CONFIGURED,
    "notconfigured": JitSupport.NOT_CONFIGURED,
    "unconfigured": JitSupport.NOT_CONFIGURED,
    "unsupported": JitSupport.UNSUPPORTED,
}
_T = TypeVar("_T")
ExampleFn = Callable[[str], str]
"""Builds a corrected example command from the one piece that was wrong."""

UNPARSEABLE = "I could not understand that command."
SUBCOMMANDS = ("help", "list", "status", "enable", "edit", "disable", "extend", "revoke", "cancel")


class GrammarError(ValueError):
    """What was wrong with a command, and a corrected example the user can copy."""

    def __init__(self, problem: str, example: str):
        self.problem = problem
        self.example = example
        super().__init__(f"{problem} Try: {example}")


@dataclass(frozen=True)
class RequestAccess:
    """`/jit <ports> <vm> <duration> [from <source>] [reason …] [--break-glass]`."""

    ports: tuple[int, ...]
    vm: str
    duration: timedelta
    source: str | None
    reason: str
    break_glass: bool = False


@dataclass(frozen=True)
class Help:
    """`/jit help [topic]`; a topic may be a VM spec, to show which rule applies to it."""

    topic: str | None = None


@dataclass(frozen=True)
class OpenRequestForm:
    """`/jit` alone: open the request modal."""


@dataclass(frozen=True)
class ListVms:
    """`/jit list [configured | not-configured | unsupported] [filter]`."""

    tab: JitSupport | None = None
    filter: str | None = None


@dataclass(frozen=True)
class Status:
    """`/jit status [vm]`: your requests, or one VM's policy and open ports."""

    vm: str | None = None


@dataclass(frozen=True)
class Enable:
    """`/jit enable <vm>`: open the policy modal on a VM without JIT."""

    vm: str


@dataclass(frozen=True)
class Edit:
    """`/jit edit <vm>`: open the policy modal on an existing policy."""

    vm: str


@dataclass(frozen=True)
class Disable:
    """`/jit disable <vm>`: remove the VM from JIT after a confirmation."""

    vm: str


@dataclass(frozen=True)
class Extend:
    """`/jit extend <request-id> <duration>`: a new window from now."""

    request_id: str
    duration: timedelta


@dataclass(frozen=True)
class Revoke:
    """`/jit revoke <request-id>`: close access early."""

    request_id: str


@dataclass(frozen=True)
class Cancel:
    """`/jit cancel <request-id>`: withdraw a pending request."""

    request_id: str


Command = RequestAccess | Help | OpenRequestForm | ListVms | Status | Enable | Edit | Disable | Extend | Revoke | Cancel


def parse_command(text: str) -> Command:
    """Turn the text after `/jit` into a Command; raise GrammarError (and nothing else) when it is wrong."""
    try:
        return _parse(text)
    except GrammarError:
        raise
    except Exception as exc:
        raise GrammarError(UNPARSEABLE, _request_example()) from exc


def parse_ports(text: str) -> tuple[int, ...]:
    """The ports field of the request form: ``ssh,8080`` → ``(22, 8080)``; GrammarError when wrong."""
    words = _join_spaced_port_list(text.split())
    if len(words) != 1:
        raise GrammarError("Enter the ports as one comma list, like `ssh,8080`.", _request_example(ports="ssh,8080"))
    return _guarded(lambda: _parse_ports(words[0], words))


def parse_vm(text: str) -> str:
    """The VM field of the request form: a name, ``rg/vm`` or ``subscription/rg/vm``; GrammarError when wrong."""
    words = text.split()
    if len(words) != 1:
        raise GrammarError(
            "Enter one VM: its name, `rg/vm` or `subscription/rg/vm`.",
            _request_example(vm=_example_vm(words[0]) if words else EXAMPLE_VM),
        )
    return _guarded(lambda: _parse_vm(words[0], lambda v: _request_example(vm=v)))


def parse_window(text: str) -> timedelta:
    """How long access should last (5 minutes to 24 hours); GrammarError when wrong."""
    words = text.split()
    if not words:
        raise GrammarError("Enter how long you need access, like `2h`.", _request_example())
    return _guarded(lambda: _parse_access_duration(words[0], lambda d: _request_example(duration=d), words[1:]))


def parse_source(text: str) -> str:
    """One IP address or strict CIDR range (or ``*``), returned in canonical form; GrammarError when wrong."""
    words = text.split()
    if len(words) != 1:
        raise GrammarError(
            "Enter one IP address or CIDR range, like `203.0.113.7` or `10.1.2.0/24`.",
            _request_example(source="203.0.113.7"),
        )
    return _guarded(lambda: _parse_source(words[0], lambda s: _request_example(source=s)))


def clean_reason(text: str) -> str:
    """A free-text reason with control and bidi-override characters removed and whitespace collapsed."""
    return " ".join(_clean_free_text(text).split())


def _guarded(parse: Callable[[], _T]) -> _T:
    try:
        return parse()
    except GrammarError:
        raise
    except Exception as exc:
        raise GrammarError(UNPARSEABLE, _request_example()) from exc


def _parse(text: str) -> Command:
    if len(text) > MAX_INPUT_CHARS:
        raise GrammarError(
            f"That command is {len(text)} characters long; keep it under {MAX_INPUT_CHARS}.",
            _request_example(),
        )
    tokens = text.split()
    if not tokens:
        return OpenRequestForm()
    head = _fold(tokens[0]).lower()
    rest = tokens[1:]
    if head in ("help", "?", "-h", "--help"):
        return _parse_help(text, tokens)
    if head == "list":
        return _parse_list(rest)
    if head == "status":
        return _parse_status(rest)
    if head in ("enable", "edit", "disable"):
        return _parse_vm_subcommand(head, rest)
    if head == "extend":
        return _parse_extend(rest)
    if head in ("revoke", "cancel"):
        return _parse_request_id_subcommand(head, rest)
    return _parse_request(tokens)


def _fold(token: str) -> str:
    """NFKC-normalise a structural token so fullwidth and compatibility forms become their plain ASCII twin."""
    return unicodedata.normalize("NFKC", token)


def _clean_free_text(text: str) -> str:
    """Free text as typed, minus control and bidi-override characters that could disguise it on a card."""
    cleaned = _BIDI_CONTROLS.sub("", text)
    return "".join(ch for ch in cleaned if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


def _shown(token: str, limit: int = 40) -> str:
    """A user token quoted back in an error: shortened, with invisible characters made visible."""
    visible = "".join(
        f"[U+{ord(ch):04X}]" if unicodedata.category(ch) in ("Cf", "Cc", "Cs", "Zl", "Zp") else ch
        for ch in token[: limit * 2]
    ).replace("`", "'")
    if len(visible) > limit:
        visible = visible[: limit - 1] + "…"
    return f"`{visible}`" if visible else "that"


def _context_example(words: list[str], *, ports: str | None = None, vm: str | None = None) -> str:
    """A corrected request that keeps every piece the user got right and fills in the rest."""
    folded = [_fold(w) for w in words]
    if ports is None:
        ports = folded[0].lower() if folded and _valid_ports_token(folded[0].lower()) else EXAMPLE_PORTS
    if vm is None:
        vm = folded[1] if len(folded) > 1 and _valid_vm_spec(folded[1]) else EXAMPLE_VM
    typed_duration = _valid_duration(words[2]) if len(words) > 2 else None
    duration = typed_duration or EXAMPLE_DURATION
    rest = words[3:] if typed_duration else words[2:]
    source = None
    if len(rest) >= 2 and _fold(rest[0]).lower() == "from":
        source = _valid_source(rest[1])
        rest = rest[2:]
    reason = _clean_free_text(" ".join(rest)).strip() or EXAMPLE_REASON
    return _request_example(ports, vm, duration, source, reason)


def _valid_ports_token(token: str) -> bool:
    parts = token.split(",")
    return all(p in WELL_KNOWN_PORTS or _valid_port_number(p) for p in parts) and len(parts) <= MAX_PORTS


def _valid_source(token: str) -> str | None:
    try:
        return _parse_source(token, lambda s: s)
    except GrammarError:
        return None


def _request_example(
    ports: str = EXAMPLE_PORTS,
    vm: str = EXAMPLE_VM,
    duration: str = EXAMPLE_DURATION,
    source: str | None = None,
    reason: str = EXAMPLE_REASON,
    break_glass: bool = False,
) -> str:
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


def _parse_help(text: str, tokens: list[str]) -> Help:
    if len(tokens) == 1:
        return Help(None)
    topic = _clean_free_text(" ".join(_fold(t) for t in tokens[1:])).strip()
    if len(topic) > MAX_TOPIC_CHARS:
        raise GrammarError(
            f"That help topic is too long ({len(topic)} characters, at most {MAX_TOPIC_CHARS}).",
            f"/jit help {EXAMPLE_VM}",
        )
    return Help(topic or None)


def _parse_list(rest: list[str]) -> ListVms:
    tab: JitSupport | None = None
    words = [_fold(t) for t in rest]
    if words and words[0].lower() in _TAB_NAMES:
        tab = _TAB_NAMES[words[0].lower()]
        words = words[1:]
    elif words and words[0].lower() in ("not", "no") and len(words) > 1 and words[1].lower() == "configured":
        tab = JitSupport.NOT_CONFIGURED
        words = words[2:]
    if not words:
        return ListVms(tab, None)
    tab_word = {JitSupport.CONFIGURED: "configured", JitSupport.NOT_CONFIGURED: "not-configured"}.get(
        tab or JitSupport.UNSUPPORTED, "unsupported"
    )
    tab_part = f"{tab_word} " if tab else ""
    if len(words) > 1:
        raise GrammarError(
            "`/jit list` takes one filter word (it matches VM name, resource group or region).",
            f"/jit list {tab_part}{_safe_filter(words[0]) or 'web'}",
        )
    word = words[0]
    if len(word) > MAX_FILTER_CHARS or not _FILTER.fullmatch(word):
        raise GrammarError(
            f"{_shown(word)} is not a usable filter: use letters, digits and `-_.()/*` (up to "
            f"{MAX_FILTER_CHARS} characters).",
            f"/jit list {tab_part}web",
        )
    if difflib.get_close_matches(word.lower(), list(_TAB_NAMES), n=1, cutoff=0.8) and tab is None:
        guess = difflib.get_close_matches(word.lower(), list(_TAB_NAMES), n=1, cutoff=0.8)[0]
        tab_guess = "not-configured" if _TAB_NAMES[guess] is JitSupport.NOT_CONFIGURED else guess
        raise GrammarError(
            f"{_shown(word)} looks like a misspelt tab; the tabs are configured, not-configured and unsupported.",
            f"/jit list {tab_guess}",
        )
    return ListVms(tab, word)


def _safe_filter(word: str) -> str:
    return word if len(word) <= MAX_FILTER_CHARS and _FILTER.fullmatch(word) else ""


def _parse_status(rest: list[str]) -> Status:
    if not rest:
        return Status(None)
    if len(rest) > 1:
        raise GrammarError("`/jit status` takes at most one VM.", f"/jit status {_example_vm(rest[0])}")
    return Status(_parse_vm(rest[0], lambda vm: f"/jit status {vm}"))


def _parse_vm_subcommand(head: str, rest: list[str]) -> Enable | Edit | Disable:
    if not rest:
        raise GrammarError(f"Tell me which VM to {head}.", f"/jit {head} {EXAMPLE_VM}")
    if len(rest) > 1:
        raise GrammarError(
            f"`/jit {head}` takes just one VM (a name, `rg/vm` or `subscription/rg/vm`).",
            f"/jit {head} {_example_vm(rest[0])}",
        )
    vm = _parse_vm(rest[0], lambda v: f"/jit {head} {v}")
    if head == "enable":
        return Enable(vm)
    if head == "edit":
        return Edit(vm)
    return Disable(vm)


def _parse_extend(rest: list[str]) -> Extend:
    if not rest:
        raise GrammarError(
            "Tell me which request to extend and for how long.",
            f"/jit extend {EXAMPLE_REQUEST_ID} 1h",
        )
    request_id = _parse_request_id(rest[0], lambda rid: f"/jit extend {rid} 1h")
    if len(rest) == 1:
        raise GrammarError("Tell me how long to extend it for.", f"/jit extend {request_id} 1h")
    if len(rest) > 2:
        raise GrammarError(
            "`/jit extend` takes a request id and one duration.",
            f"/jit extend {request_id} {_example_duration(rest[1])}",
        )
    duration = _parse_access_duration(rest[1], lambda d: f"/jit extend {request_id} {d}", rest[2:])
    return Extend(request_id, duration)


def _parse_request_id_subcommand(head: str, rest: list[str]) -> Revoke | Cancel:
    if not rest:
        raise GrammarError(
            f"Tell me which request to {head} (its id is on the card and in `/jit status`).",
            f"/jit {head} {EXAMPLE_REQUEST_ID}",
        )
    if len(rest) > 1:
        raise GrammarError(f"`/jit {head}` takes just one request id.", f"/jit {head} {EXAMPLE_REQUEST_ID}")
    request_id = _parse_request_id(rest[0], lambda rid: f"/jit {head} {rid}")
    return Revoke(request_id) if head == "revoke" else Cancel(request_id)


def _parse_request_id(token: str, example: ExampleFn) -> str:
    folded = _fold(token).strip("`'\"#")
    if not _REQUEST_ID.fullmatch(folded):
        raise GrammarError(
            f"{_shown(token)} is not a request id: ids are letters, digits, `-` and `_` "
            "(copy it from the card or `/jit status`).",
            example(EXAMPLE_REQUEST_ID),
        )
    return folded


def _parse_request(tokens: list[str]) -> RequestAccess:
    flags = [t for t in tokens if _fold(t).lower() in _BREAK_GLASS_SPELLINGS]
    break_glass = bool(flags)
    words = [t for t in tokens if _fold(t).lower() not in _BREAK_GLASS_SPELLINGS]
    words = _join_spaced_port_list(words)
    if not words:
        raise GrammarError(
            "Tell me the ports, the VM and how long you need.", _request_example(break_glass=break_glass)
        )
    _reject_misspelt_subcommand(words)
    _reject_swapped_ports_and_vm(words)
    ports = _parse_ports(words[0], words)
    ports_text = _ports_text(ports)
    if len(words) < 2:
        raise GrammarError(
            "Tell me which VM and for how long.",
            _request_example(ports=ports_text, break_glass=break_glass),
        )
    vm = _parse_vm(words[1], lambda v: _context_example(words, ports=ports_text, vm=v))
    if len(words) < 3:
        raise GrammarError(
            "Tell me how long you need access (at least 5 minutes, at most 24 hours).",
            _request_example(ports=ports_text, vm=vm, break_glass=break_glass),
        )
    rest = words[3:]
    duration = _parse_access_duration(
        words[2],
        lambda d: _request_example(ports_text, vm, d, None, " ".join(_reason_after_bad_duration(words))),
        rest,
    )
    duration_text = _duration_text(duration)
    source: str | None = None
    if rest and _fold(rest[0]).lower() == "from":
        if len(rest) < 2:
            raise GrammarError(
                "`from` needs an IP address or CIDR range after it.",
                _request_example(ports_text, vm, duration_text, "203.0.113.7", break_glass=break_glass),
            )
        source = _parse_source(
            rest[1],
            lambda s: _request_example(ports_text, vm, duration_text, s, " ".join(rest[2:]), break_glass),
        )
        rest = rest[2:]
    _reject_misspelt_flags(rest, lambda r: _request_example(ports_text, vm, duration_text, source, r, True))
    reason = _clean_free_text(" ".join(rest)).strip()
    if len(reason) > MAX_REASON_CHARS:
        raise GrammarError(
            f"The reason is {len(reason)} characters long; keep it under {MAX_REASON_CHARS} "
            "(link a ticket for the details).",
            _request_example(ports_text, vm, duration_text, source, reason[:50], break_glass),
        )
    if break_glass and not reason:
        raise GrammarError(
            "Break-glass access needs a reason: it is announced to approvers and on-call and reviewed later.",
            _request_example(ports_text, vm, duration_text, source, "prod outage INC-1234", True),
        )
    return RequestAccess(ports, vm, duration, source, reason, break_glass)


def _reason_after_bad_duration(words: list[str]) -> list[str]:
    """What the user meant as the reason when words[2] is not a duration: `2 hours x` → x, `fixing x` → both."""
    rest = words[3:]
    if _unit_word(rest):
        return rest[1:]
    if not re.search(r"[0-9]", _fold(words[2])):
        return words[2:]
    return rest


def _join_spaced_port_list(words: list[str]) -> list[str]:
    """`ssh, rdp web-01 2h` → `ssh,rdp web-01 2h`: people put spaces after commas."""
    if not words:
        return words
    head = words[0]
    index = 1
    while index < len(words) and (head.endswith(",") or words[index].startswith(",")):
        head += words[index]
        index += 1
    return [head, *words[index:]]


def _reject_misspelt_subcommand(words: list[str]) -> None:
    first = _fold(words[0]).lower()
    if _looks_like_ports(first):
        return
    guess = difflib.get_close_matches(first, SUBCOMMANDS, n=1, cutoff=0.75)
    if guess:
        raise GrammarError(
            f"{_shown(words[0])} is not a command or a port. Did you mean `/jit {guess[0]}`?",
            f"/jit {guess[0]}" + ("" if guess[0] in ("help", "list", "status") else f" {EXAMPLE_VM}"),
        )


def _reject_swapped_ports_and_vm(words: list[str]) -> None:
    if len(words) < 2:
        return
    first, second = _fold(words[0]), _fold(words[1])
    if not _looks_like_ports(first.lower()) and _looks_like_ports(second.lower()):
        vm = first if _valid_vm_spec(first) else EXAMPLE_VM
        ports = second.lower() if _valid_ports_token(second.lower()) else EXAMPLE_PORTS
        raise GrammarError("The ports come first, then the VM.", _context_example(words, ports=ports, vm=vm))


def _looks_like_ports(token: str) -> bool:
    parts = token.split(",")
    return all(p in WELL_KNOWN_PORTS or _PORT_NUMBER.fullmatch(p) for p in parts) and bool(parts)


def _parse_ports(token: str, words: list[str]) -> tuple[int, ...]:
    folded = _fold(token).lower()
    ports: list[int] = []
    for part in folded.split(","):
        if not part:
            raise GrammarError(
                f"{_shown(token)} has an empty item; separate ports with single commas.",
                _context_example(words, ports="ssh,8080"),
            )
        if part in WELL_KNOWN_PORTS:
            ports.extend(WELL_KNOWN_PORTS[part])
            continue
        if _PORT_NUMBER.fullmatch(part) and 1 <= int(part) <= 65535:
            ports.append(int(part))
            continue
        if re.fullmatch(r"[0-9]+", part, re.ASCII):
            problem = f"Port {_shown(part, 12)} is out of range: ports are 1 to 65535."
        elif re.fullmatch(r"[0-9]+-[0-9]+", part, re.ASCII):
            problem = f"{_shown(part)} is a range; list the ports you need, separated by commas."
        else:
            guess = difflib.get_close_matches(part, list(WELL_KNOWN_PORTS), n=1, cutoff=0.6)
            hint = f" Did you mean `{guess[0]}`?" if guess else ""
            problem = (
                f"{_shown(part)} is not a port. Use ssh (22), rdp (3389), winrm (5985, 5986), "
                f"a number from 1 to 65535, or a comma list like `ssh,8080`.{hint}"
            )
        good = [p for p in folded.split(",") if p in WELL_KNOWN_PORTS or _valid_port_number(p)]
        raise GrammarError(problem, _context_example(words, ports=",".join(good) or EXAMPLE_PORTS))
    unique = tuple(dict.fromkeys(ports))
    if len(unique) > MAX_PORTS:
        raise GrammarError(
            f"That is {len(unique)} ports; ask for at most {MAX_PORTS} at a time.",
            _context_example(words, ports=",".join(str(p) for p in unique[:3])),
        )
    return unique


def _valid_port_number(part: str) -> bool:
    return bool(_PORT_NUMBER.fullmatch(part)) and 1 <= int(part) <= 65535


def _ports_text(ports: tuple[int, ...]) -> str:
    names = {v: k for k, v in WELL_KNOWN_PORTS.items() if len(v) == 1}
    out: list[str] = []
    remaining = list(ports)
    if 5985 in remaining and 5986 in remaining:
        remaining = [p for p in remaining if p != 5986]
    for port in remaining:
        out.append("winrm" if port == 5985 and 5986 in ports else names.get((port,), str(port)))
    return ",".join(out)


def _valid_vm_spec(spec: str) -> bool:
    try:
        _vm_spec(spec)
    except GrammarError:
        return False
    return True


def _example_vm(token: str) -> str:
    folded = _fold(token)
    return folded if _valid_vm_spec(folded) else EXAMPLE_VM


def _parse_vm(token: str, example: ExampleFn) -> str:
    return _vm_spec(_fold(token), token, example)


def _vm_spec(spec: str, original: str | None = None, example: ExampleFn | None = None) -> str:
    build = example or (lambda v: _request_example(vm=v))
    shown = _shown(original if original is not None else spec)
    if not spec.isascii() or any(unicodedata.category(ch) in ("Cf", "Cc") for ch in spec):
        raise GrammarError(
            f"{shown} contains characters Azure does not allow in names (only plain letters, digits, "
            "`-`, `_` and `.`; watch for look-alike or invisible characters).",
            build(EXAMPLE_VM),
        )
    parts = spec.split("/")
    if len(parts) > 3 or any(not p for p in parts):
        raise GrammarError(
            f"{shown} is not a VM: use a name, `rg/vm` or `subscription/rg/vm`.",
            build(EXAMPLE_VM if not parts[-1] or not _VM_NAME.fullmatch(parts[-1]) else parts[-1]),
        )
    name = parts[-1]
    if not _VM_NAME.fullmatch(name):
        raise GrammarError(_vm_name_problem(name), build(_suggest_vm_name(name, parts[:-1])))
    if len(parts) >= 2:
        group = parts[-2]
        if not _RESOURCE_GROUP.fullmatch(group):
            raise GrammarError(
                f"{_shown(group)} is not a valid resource group name: 1 to 90 letters, digits, `_`, `-`, `.`, "
                "`(` or `)`, not ending in `.`.",
                build(name),
            )
    if len(parts) == 3:
        if not _SUBSCRIPTION.fullmatch(parts[0]):
            raise GrammarError(
                f"{_shown(parts[0])} is not a subscription id (a GUID like `00000000-0000-0000-0000-000000000000`).",
                build(f"{parts[1]}/{name}"),
            )
        return f"{parts[0].lower()}/{parts[1]}/{name}"
    return "/".join(parts)


def _vm_name_problem(name: str) -> str:
    shown = _shown(name)
    if len(name) > 64:
        return f"{shown} is {len(name)} characters long; Azure VM names are at most 64."
    if name[:1] in "._-":
        return f"{shown} is not a valid VM name: it must start with a letter or digit."
    if name[-1:] in ".-":
        return f"{shown} is not a valid VM name: it cannot end with `.` or `-`."
    return f"{shown} is not a valid VM name: Azure allows letters, digits, `-`, `_` and `.` (1 to 64 characters)."


def _suggest_vm_name(name: str, prefix: list[str]) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "", name, flags=re.ASCII).strip("._-")[:64].rstrip(".-")
    candidate = cleaned if cleaned and _VM_NAME.fullmatch(cleaned) else EXAMPLE_VM
    if prefix and all(_RESOURCE_GROUP.fullmatch(p) for p in prefix[-1:]) and len(prefix) == 1:
        return f"{prefix[0]}/{candidate}"
    return candidate


def _unit_word(rest: list[str]) -> bool:
    return bool(rest) and _fold(rest[0]).lower() in _UNIT_WORDS


_UNIT_WORDS = {
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
}


def _example_duration(token: str) -> str:
    return _valid_duration(token) or EXAMPLE_DURATION


def _valid_duration(token: str) -> str | None:
    folded = _fold(token)
    try:
        value = parse_duration(folded) if folded.isascii() and len(folded) <= 32 else None
    except DurationError:
        value = None
    if value is None or not MIN_ACCESS <= value <= MAX_COMMAND_ACCESS:
        return None
    return _duration_text(value)


def _duration_text(value: timedelta) -> str:
    return humanize(value).replace(" ", "")


def _parse_access_duration(token: str, build: ExampleFn, following: list[str]) -> timedelta:
    folded = _fold(token).lower()
    if folded.isascii() and re.fullmatch(r"[0-9]{1,4}", folded, re.ASCII) and _unit_word(following):
        unit = _UNIT_WORDS[_fold(following[0]).lower()]
        raise GrammarError(f"Write the duration without a space, like `{folded}{unit}`.", build(f"{folded}{unit}"))
    if folded.isascii() and re.fullmatch(r"[0-9]{1,4}", folded, re.ASCII):
        raise GrammarError(f"{_shown(token)} needs a unit: `m` for minutes or `h` for hours.", build(f"{folded}h"))
    if not folded.isascii() or len(folded) > 32:
        raise GrammarError(
            f"{_shown(token)} is not a duration. Use forms like `90m`, `2h`, `1h30m` or `PT2H`.",
            build(EXAMPLE_DURATION),
        )
    try:
        value = parse_duration(folded)
    except DurationError:
        looks_like_vm_word = not re.search(r"[0-9]", folded)
        problem = (
            f"{_shown(token)} is not a duration. Put how long you need after the VM, like `90m`, `2h`, "
            "`1h30m` or `PT2H`."
            if looks_like_vm_word
            else f"{_shown(token)} is not a duration. Use forms like `90m`, `2h`, `1h30m` or `PT2H`."
        )
        raise GrammarError(problem, build(EXAMPLE_DURATION)) from None
    if value < MIN_ACCESS:
        raise GrammarError(f"{_shown(token)} is too short: access lasts at least {humanize(MIN_ACCESS)}.", build("5m"))
    if value > MAX_COMMAND_ACCESS:
        raise GrammarError(
            f"{_shown(token)} is too long: access lasts at most 24 hours (your VM's policy may allow less).",
            build("24h" if value < timedelta(days=2) else EXAMPLE_DURATION),
        )
    return value


def _parse_source(token: str, build: ExampleFn) -> str:
    folded = _fold(token).strip()
    if folded == "*":
        return "*"
    if not folded.isascii() or not _IP_CHARS.fullmatch(folded) or len(folded) > 49:
        raise GrammarError(
            f"{_shown(token)} is not an IP address or CIDR range (for example `203.0.113.7` or `10.1.2.0/24`).",
            build("203.0.113.7"),
        )
    if "/" in folded:
        address, _, prefix = folded.partition("/")
        if not re.fullmatch(r"[0-9]{1,3}", prefix, re.ASCII):
            raise GrammarError(f"{_shown(token)} has a bad prefix length after `/`.", build(_or_example(address)))
        try:
            network = ipaddress.ip_network(folded, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(folded, strict=False)
            except ValueError:
                raise GrammarError(
                    f"{_shown(token)} is not a valid CIDR range (for example `10.1.2.0/24`).",
                    build("10.1.2.0/24"),
                ) from None
            raise GrammarError(
                f"{_shown(token)} has host bits set; did you mean `{loose}`?", build(str(loose))
            ) from None
        return str(network)
    try:
        return str(ipaddress.ip_address(folded))
    except ValueError:
        raise GrammarError(
            f"{_shown(token)} is not a valid IP address (for example `203.0.113.7`).", build("203.0.113.7")
        ) from None


def _or_example(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "203.0.113.7"


def _reject_misspelt_flags(rest: list[str], build: ExampleFn) -> None:
    for word in rest:
        folded = _fold(word).lower()
        if folded.startswith(("--", "—", "–")) and len(folded) > 2:
            close = difflib.SequenceMatcher(None, folded.lstrip("-—–"), "break-glass").ratio()
            if close >= 0.7:
                others = [w for w in rest if w is not word]
                raise GrammarError(
                    f"{_shown(word)} is not an option; the break-glass flag is spelt `{BREAK_GLASS_FLAG}`.",
                    build(" ".join(others)),
                )
