"""Domain refusals the Slack face turns into friendly, ephemeral replies."""

from __future__ import annotations

from collections.abc import Sequence

from jit.hints import Command, Hint, command_hint
from jit.model import UnsupportedReason


class RequestRejected(Exception):
    """A request that cannot go ahead: ``problem`` says why (plain text), ``hint`` what would work instead."""

    def __init__(self, problem: str, hint: Hint | None = None):
        self.problem = problem
        self.hint = hint
        super().__init__(problem)


class JitOff(RequestRejected):
    """JIT is not on for the VM, so no request can be checked or approved. With no ``reasons`` a jitbot admin can
    enable it (``/jit enable``); with ``reasons`` Azure cannot protect the VM at all, and only whoever owns each
    reason (network, subscription, Azure Policy) can change that before an admin can enable it."""

    def __init__(self, vm_label: str, reasons: Sequence[UnsupportedReason] = ()):
        self.vm_label = vm_label
        self.reasons = tuple(reasons)
        if self.reasons:
            problem = (
                f"Just-in-time access cannot be used on `{vm_label}` until its setup in Azure is fixed "
                f"({', '.join(r.value for r in self.reasons)}); jitbot admins cannot turn it on before that."
            )
        else:
            problem = f"Just-in-time access is not configured for `{vm_label}`; a jitbot admin can enable it."
        super().__init__(problem, command_hint(Command.LIST, "configured"))


class NotAllowed(Exception):
    """The person may not do this (not an approver, approving their own request, not an admin…)."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(problem)


class UnknownRequest(Exception):
    """No request with that id (a tampered button value, or a request past retention)."""

    def __init__(self, request_id: str):
        self.request_id = request_id
        super().__init__(f"no request {request_id!r}")


class TemporarilyUnavailable(Exception):
    """Redis (our state) is unreachable; nothing was changed and the user should retry shortly."""


class GroupUnreadable(Exception):
    """A user group's members could not be read: Slack does not know the group (deleted, mistyped, disabled) or
    did not answer. ``why`` is Slack's error code or the failure's type, safe to show and audit."""

    def __init__(self, group_id: str, why: str):
        self.group_id = group_id
        self.why = why
        super().__init__(f"user group {group_id} cannot be read ({why})")


class IdentityUnavailable(Exception):
    """A person's identity could not be looked up (no email in Slack, no Entra ID account…); ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
