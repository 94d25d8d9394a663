"""The typed commands the grammar produces: one frozen dataclass per thing a person can ask for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from jit.model import JitSupport


@dataclass(frozen=True)
class RequestAccess:
    """`/jit <ports> <vm> <duration> [from <source> | from me] [reason …] [--break-glass]`.

    ``from_me`` asks for the requester's own address, confirmed on a web page (``source`` is then None).
    """

    ports: tuple[int, ...]
    vm: str
    duration: timedelta
    source: str | None
    reason: str
    break_glass: bool = False
    from_me: bool = False


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


PolicyMode = Literal["enable", "edit", "disable"]
POLICY_MODES: tuple[PolicyMode, ...] = ("enable", "edit", "disable")


@dataclass(frozen=True)
class PolicyCommand:
    """`/jit enable|edit|disable <vm>`: the policy modal on a VM without JIT (``enable``) or on its existing
    policy (``edit``), or removing the VM from JIT after a confirmation (``disable``)."""

    mode: PolicyMode
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


@dataclass(frozen=True)
class Report:
    """`/jit report [7d|30d]`: the access review of the last ``days`` days, by DM (approvers and admins)."""

    days: int = 7


Command = RequestAccess | Help | OpenRequestForm | ListVms | Status | PolicyCommand | Extend | Revoke | Cancel | Report
