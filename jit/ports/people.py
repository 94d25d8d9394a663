"""Who people are: Slack user groups, a person's email, and what their own Azure identity may do."""

from __future__ import annotations

from typing import Protocol

from jit.model import RbacVerdict, VmRef


class Directory(Protocol):
    """Who belongs to a Slack user group; implemented (with a short cache) in ``bot``."""

    async def group_members(self, group_id: str) -> frozenset[str]:
        """User ids in the group ``group_id`` (``S…``); a group Slack does not know has none."""
        ...

    async def readable_members(self, group_id: str) -> frozenset[str]:
        """User ids in the group; raises ``jit.errors.GroupUnreadable`` when Slack does not know the group (deleted,
        mistyped, disabled) or cannot answer, for lists where reading "empty" would grant something."""
        ...


class RequesterPermissions(Protocol):
    """Whether a person's own Azure identity may request JIT access to a VM, as the Azure portal would check.

    Implemented on Microsoft Graph and Azure RBAC by ``jit.azure.requester_permissions``. Never raises for a
    failed lookup: the verdict says it could not be verified, and why.
    """

    async def check(self, requester: str, vm: VmRef) -> RbacVerdict:
        """The verdict for Slack user ``requester`` on ``vm``."""
        ...


class PeopleEmails(Protocol):
    """A Slack user's email address (their link to an Entra ID account); implemented on ``users.info`` in ``bot``."""

    async def email_of(self, user: str) -> str:
        """The email of ``user``; raises ``jit.errors.IdentityUnavailable`` (with a reason) when there is none."""
        ...
