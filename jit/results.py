"""What the use cases take from the Slack face and hand back to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from jit.model import AccessRequest


@dataclass(frozen=True)
class RequestDraft:
    """What an engineer asked for, already parsed by the Slack face."""

    requester: str
    vm: str
    ports: tuple[int, ...]
    duration: timedelta
    source: str | None
    reason: str
    break_glass: bool = False


@dataclass(frozen=True)
class Submitted:
    """The request that now waits for approval; ``created`` is False when an identical one was pending."""

    request: AccessRequest
    created: bool


@dataclass(frozen=True)
class Decision:
    """The result of a click: ``acted`` is False when someone else had already decided.

    ``recorded`` means the approval counted toward a quorum (or an extension's quorum) that is not met yet.
    """

    request: AccessRequest
    acted: bool
    recorded: bool = False


@dataclass(frozen=True)
class ExtensionAsked:
    """The grant after an extension was asked: ``created`` False when one was already waiting."""

    request: AccessRequest
    created: bool


@dataclass(frozen=True)
class Revoked:
    """The result of a revoke: ``acted`` False when the access had already ended (someone else won).

    ``closed`` says whether the NSG rules were removed already; when False, jitbot keeps retrying.
    """

    request: AccessRequest
    acted: bool
    closed: bool = False


@dataclass(frozen=True)
class Reviewed:
    """The result of acknowledging a break-glass review: ``acted`` False when someone already had."""

    request: AccessRequest
    acted: bool
