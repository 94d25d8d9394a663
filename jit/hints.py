"""What a refusal suggests doing instead, as data: the Slack face turns it into a command people can copy.

The domain never writes Slack's ``/jit`` syntax; it says *which* request would work (``RequestHint``) or *which*
command helps next (``CommandHint``), and ``bot`` renders that as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Command(StrEnum):
    """The commands a hint can point at."""

    STATUS = "status"
    CANCEL = "cancel"
    EXTEND = "extend"
    LIST = "list"
    ENABLE = "enable"
    EDIT = "edit"
    DISABLE = "disable"


@dataclass(frozen=True)
class RequestHint:
    """A request that would pass the check that failed: what the person typed (VM as typed, the source only when
    they gave one, their reason, ``--break-glass``) with only the wrong part changed. ``ports`` is empty when the
    person named none (the domain fills them in from the VM's policy)."""

    ports: tuple[int, ...]
    vm: str
    duration: timedelta
    source: str | None = None
    reason: str = ""
    break_glass: bool = False


@dataclass(frozen=True)
class CommandHint:
    """A command that helps next, with its arguments (``(Command.STATUS, ("web-01",))``); an argument written as
    ``<request-id>`` is a placeholder for the person to fill in."""

    command: Command
    args: tuple[str, ...] = ()


Hint = RequestHint | CommandHint


def request_hint(
    ports: Sequence[int],
    vm: str,
    duration: timedelta,
    source: str | None = None,
    reason: str = "",
    break_glass: bool = False,
) -> RequestHint:
    """A ``RequestHint`` from loose parts."""
    return RequestHint(tuple(ports), vm, duration, source, reason, break_glass)


def command_hint(command: Command, *args: str) -> CommandHint:
    """A ``CommandHint`` from loose parts."""
    return CommandHint(command, tuple(args))


REQUEST_ID_PLACEHOLDER = "<request-id>"
