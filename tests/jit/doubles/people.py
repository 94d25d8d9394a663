"""``jit.ports.people.Directory`` from a dict: user groups and their members, and groups Slack cannot read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jit.errors import GroupUnreadable


class GroupDirectory:
    """Groups by id. An unknown group has no members; ``readable_members`` refuses it (and any ``unreadable``)."""

    def __init__(self, groups: Mapping[str, Iterable[str]] | None = None, unreadable: Iterable[str] = ()):
        self.groups: dict[str, set[str]] = {gid: set(members) for gid, members in (groups or {}).items()}
        self.unreadable = set(unreadable)

    async def group_members(self, group_id: str) -> frozenset[str]:
        """User ids in the group; a group Slack does not know (or cannot read) has none."""
        if group_id in self.unreadable:
            return frozenset()
        return frozenset(self.groups.get(group_id, ()))

    async def readable_members(self, group_id: str) -> frozenset[str]:
        """User ids in the group; raises GroupUnreadable for a group Slack does not know or cannot read."""
        if group_id in self.unreadable or group_id not in self.groups:
            raise GroupUnreadable(group_id, "no_such_subteam")
        return frozenset(self.groups[group_id])
