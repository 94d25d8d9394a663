"""The `/jit` command language: text in, one typed Command out, or a friendly GrammarError.

Everything a person can type is decided here, before any Azure or Redis call, so that malformed or hostile
input (bad names, Unicode look-alikes, oversized text) never reaches the services. The parser never raises
anything but GrammarError, whatever the input, and every error carries a corrected example to copy.

The layers, each a module: ``text`` (folding tokens, cleaning free text, quoting input back), ``errors``
(GrammarError and the examples it carries), the values (``ports``, ``durations``, ``sources``, ``vm_spec``,
the last using the domain's naming rules in ``jit.vm_names``), ``suggestions`` (corrections that keep what was
right), ``commands`` (the typed results), and the parsers (``subcommands``, and ``parser`` with the entry
points). Callers import from this package.
"""

from bot.grammar.commands import (
    Cancel,
    Command,
    Extend,
    Help,
    ListVms,
    OpenRequestForm,
    PolicyCommand,
    Report,
    RequestAccess,
    Revoke,
    Status,
)
from bot.grammar.errors import GrammarError
from bot.grammar.parser import MAX_REASON_CHARS, parse_command, parse_ports, parse_source, parse_vm, parse_window
from bot.grammar.sources import means_from_me
from bot.grammar.text import BREAK_GLASS_FLAG, clean_reason

__all__ = [
    "BREAK_GLASS_FLAG",
    "MAX_REASON_CHARS",
    "Cancel",
    "Command",
    "Extend",
    "GrammarError",
    "Help",
    "ListVms",
    "OpenRequestForm",
    "PolicyCommand",
    "Report",
    "RequestAccess",
    "Revoke",
    "Status",
    "clean_reason",
    "means_from_me",
    "parse_command",
    "parse_ports",
    "parse_source",
    "parse_vm",
    "parse_window",
]
