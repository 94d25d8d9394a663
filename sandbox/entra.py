"""The emulated Entra ID tenant: users and (nested) security groups, shared by the Graph emulator (which serves the
users) and the ARM emulator (which expands groups for ``assignedTo()`` role assignment filters, as ARM does).

``demo_directory()`` holds the demo Slack workspace's people under the same email addresses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

TENANT_ID = "8e1c0b7a-4d2f-4c39-9b61-2f5a7d3e9c10"
DOMAIN = "contoso.com"
_NAMESPACE = uuid.UUID("0f6b1d52-8a3e-4c7f-9d21-5b4e3a2c1d00")


def object_id(name: str) -> str:
    """A stable object id for a demo principal."""
    return str(uuid.uuid5(_NAMESPACE, name.lower()))


@dataclass
class EntraUser:
    """A member (or guest) account; ``mail`` may differ from ``user_principal_name`` (guests, renamed people)."""

    user_principal_name: str
    display_name: str
    mail: str | None = None
    account_enabled: bool = True
    id: str = ""
    job_title: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = object_id(self.user_principal_name)


@dataclass
class EntraGroup:
    """A security group; ``members`` are object ids of users or other groups."""

    display_name: str
    members: list[str] = field(default_factory=list)
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = object_id(f"group:{self.display_name}")


@dataclass
class Directory:
    """Everything the tenant holds. Mutate it directly in tests; both emulators read it on each call."""

    tenant_id: str = TENANT_ID
    users: list[EntraUser] = field(default_factory=list)
    groups: list[EntraGroup] = field(default_factory=list)

    def user(self, key: str) -> EntraUser | None:
        """A user by object id or user principal name (case-insensitive), as ``/users/{id | userPrincipalName}``."""
        wanted = key.lower()
        return next((u for u in self.users if wanted in (u.id.lower(), u.user_principal_name.lower())), None)

    def group(self, display_name: str) -> EntraGroup:
        """The group with that display name."""
        return next(g for g in self.groups if g.display_name == display_name)

    def transitive_groups(self, principal_id: str) -> set[str]:
        """Every group ``principal_id`` belongs to, directly or through nested groups."""
        found: set[str] = set()
        frontier = {principal_id.lower()}
        while frontier:
            parents = {g.id.lower() for g in self.groups if frontier & {m.lower() for m in g.members}}
            frontier = parents - found
            found |= parents
        return found


def demo_directory() -> Directory:
    """The demo workspace's people as Entra ID users (same emails), and the groups their Azure roles go to.

    ``sg-oncall`` is nested in ``sg-platform-engineers``, so erin's group-based roles arrive transitively.
    """
    users = [
        EntraUser(f"alice@{DOMAIN}", "Alice Engineer", f"alice@{DOMAIN}", job_title="Engineer"),
        EntraUser(f"bob@{DOMAIN}", "Bob Approver", f"bob@{DOMAIN}", job_title="Team lead"),
        EntraUser(f"carol@{DOMAIN}", "Carol Approver", f"carol@{DOMAIN}", job_title="Security engineer"),
        EntraUser(f"dave@{DOMAIN}", "Dave Admin", f"dave@{DOMAIN}", job_title="Cloud admin"),
        EntraUser(f"erin@{DOMAIN}", "Erin Oncall", f"erin@{DOMAIN}", job_title="On-call engineer"),
        EntraUser(f"frank@{DOMAIN}", "Frank Former", f"frank@{DOMAIN}", account_enabled=False),
    ]
    by_name = {u.user_principal_name.split("@")[0]: u.id for u in users}
    oncall = EntraGroup("sg-oncall", [by_name["erin"]])
    return Directory(
        users=users,
        groups=[
            oncall,
            EntraGroup("sg-platform-engineers", [by_name["alice"], oncall.id]),
            EntraGroup("sg-jit-approvers", [by_name["bob"], by_name["carol"]]),
            EntraGroup("sg-cloud-admins", [by_name["dave"]]),
        ],
    )
