"""The subcommands other than a request: ``help``, ``list``, ``status``, ``enable``/``edit``/``disable``,
``extend``, ``revoke``, ``cancel`` and ``report``."""

from __future__ import annotations

import difflib
import re

from bot.grammar.commands import (
    POLICY_MODES,
    Cancel,
    Extend,
    Help,
    ListVms,
    PolicyCommand,
    PolicyMode,
    Report,
    Revoke,
    Status,
)
from bot.grammar.durations import example_duration, parse_access_duration
from bot.grammar.errors import EXAMPLE_VM, ExampleFn, GrammarError
from bot.grammar.text import clean_free_text, fold, shown
from bot.grammar.vm_spec import example_vm, parse_vm_token
from jit.model import JitSupport
from jit.reporting import REPORT_DAYS

MAX_FILTER_CHARS = 100
MAX_TOPIC_CHARS = 100
EXAMPLE_REQUEST_ID = "jr-4kQ9xZ2mP7sT"
_REPORT_PERIOD = re.compile(r"(\d{1,3})\s*(?:d|days?)?", re.ASCII | re.IGNORECASE)
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
_FILTER = re.compile(r"[A-Za-z0-9_().*/-]+", re.ASCII)
_TAB_NAMES: dict[str, JitSupport] = {
    "configured": JitSupport.CONFIGURED,
    "not-configured": JitSupport.NOT_CONFIGURED,
    "not_configured": JitSupport.NOT_CONFIGURED,
    "notconfigured": JitSupport.NOT_CONFIGURED,
    "unconfigured": JitSupport.NOT_CONFIGURED,
    "unsupported": JitSupport.UNSUPPORTED,
}


def parse_help(tokens: list[str]) -> Help:
    """`/jit help [topic]`: the topic is free text, folded and cleaned."""
    if len(tokens) == 1:
        return Help(None)
    topic = clean_free_text(" ".join(fold(t) for t in tokens[1:])).strip()
    if len(topic) > MAX_TOPIC_CHARS:
        raise GrammarError(
            f"That help topic is too long ({len(topic)} characters, at most {MAX_TOPIC_CHARS}).",
            f"/jit help {EXAMPLE_VM}",
        )
    return Help(topic or None)


def parse_list(rest: list[str]) -> ListVms:
    """`/jit list [tab] [filter]`; a misspelt tab is refused rather than taken as a filter."""
    tab: JitSupport | None = None
    words = [fold(t) for t in rest]
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
            f"{shown(word)} is not a usable filter: use letters, digits and `-_.()/*` (up to "
            f"{MAX_FILTER_CHARS} characters).",
            f"/jit list {tab_part}web",
        )
    if difflib.get_close_matches(word.lower(), list(_TAB_NAMES), n=1, cutoff=0.8) and tab is None:
        guess = difflib.get_close_matches(word.lower(), list(_TAB_NAMES), n=1, cutoff=0.8)[0]
        tab_guess = "not-configured" if _TAB_NAMES[guess] is JitSupport.NOT_CONFIGURED else guess
        raise GrammarError(
            f"{shown(word)} looks like a misspelt tab; the tabs are configured, not-configured and unsupported.",
            f"/jit list {tab_guess}",
        )
    return ListVms(tab, word)


def _safe_filter(word: str) -> str:
    return word if len(word) <= MAX_FILTER_CHARS and _FILTER.fullmatch(word) else ""


def parse_status(rest: list[str]) -> Status:
    """`/jit status [vm]`."""
    if not rest:
        return Status(None)
    if len(rest) > 1:
        raise GrammarError("`/jit status` takes at most one VM.", f"/jit status {example_vm(rest[0])}")
    return Status(parse_vm_token(rest[0], lambda vm: f"/jit status {vm}"))


def policy_mode(word: str) -> PolicyMode | None:
    """The policy subcommand ``word`` names (``enable``, ``edit`` or ``disable``), or None."""
    return next((mode for mode in POLICY_MODES if mode == word), None)


def parse_policy_command(head: PolicyMode, rest: list[str]) -> PolicyCommand:
    """`/jit enable|edit|disable <vm>`: exactly one VM."""
    if not rest:
        raise GrammarError(f"Tell me which VM to {head}.", f"/jit {head} {EXAMPLE_VM}")
    if len(rest) > 1:
        raise GrammarError(
            f"`/jit {head}` takes just one VM (a name, `rg/vm` or `subscription/rg/vm`).",
            f"/jit {head} {example_vm(rest[0])}",
        )
    return PolicyCommand(head, parse_vm_token(rest[0], lambda v: f"/jit {head} {v}"))


def parse_extend(rest: list[str]) -> Extend:
    """`/jit extend <request-id> <duration>`."""
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
            f"/jit extend {request_id} {example_duration(rest[1])}",
        )
    duration = parse_access_duration(rest[1], lambda d: f"/jit extend {request_id} {d}", rest[2:])
    return Extend(request_id, duration)


def parse_request_id_subcommand(head: str, rest: list[str]) -> Revoke | Cancel:
    """`/jit revoke <request-id>` and `/jit cancel <request-id>`."""
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
    folded = fold(token).strip("`'\"#")
    if not _REQUEST_ID.fullmatch(folded):
        raise GrammarError(
            f"{shown(token)} is not a request id: ids are letters, digits, `-` and `_` "
            "(copy it from the card or `/jit status`).",
            example(EXAMPLE_REQUEST_ID),
        )
    return folded


def parse_report(rest: list[str]) -> Report:
    """`/jit report [7d|30d]`: the last 7 days unless 30 are asked for (``30d``, ``30`` or ``30 days``)."""
    choices = " or ".join(f"`{days}d`" for days in REPORT_DAYS)
    words = [fold(t) for t in rest]
    if not words:
        return Report(REPORT_DAYS[0])
    match = _REPORT_PERIOD.fullmatch("".join(words)) if len(words) <= 2 else None
    if match is None or int(match.group(1)) not in REPORT_DAYS:
        raise GrammarError(
            f"{shown(' '.join(rest))} is not a period I can report on; choose {choices} (the default is "
            f"`{REPORT_DAYS[0]}d`).",
            f"/jit report {REPORT_DAYS[-1]}d",
        )
    return Report(int(match.group(1)))
