"""User-group membership from Slack, cached briefly so approval clicks stay fast and Slack is not hammered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from jit.errors import GroupUnreadable

UNKNOWN_GROUP_ERRORS = frozenset({"no_such_subteam", "subteam_not_found", "invalid_usergroup"})
"""What ``usergroups.users.list`` answers for a group it does not know (deleted, mistyped or disabled)."""


class SlackDirectory:
    """Implements ``jit.ports.Directory`` with ``usergroups.users.list`` and a TTL cache.

    A group Slack does not know is cached as unknown (``None``): ``group_members`` reads it as empty (nobody gains
    rights), ``readable_members`` refuses to. Failures to reach Slack are never cached.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._loading: dict[str, asyncio.Task[frozenset[str] | None]] = {}

    async def group_members(self, group_id: str) -> frozenset[str]:
        """Members of ``group_id``; an unknown or disabled group has no members (nobody gains rights).

        Concurrent cold lookups of one group share a single ``usergroups.users.list`` call.
        """
        members = await self._members(group_id)
        return members if members is not None else frozenset()

    async def readable_members(self, group_id: str) -> frozenset[str]:
        """Members of ``group_id``; raises GroupUnreadable when Slack does not know it or cannot answer."""
        try:
            members = await self._members(group_id)
        except SlackApiError as exc:
            raise GroupUnreadable(group_id, str(exc.response.get("error") or "slack_error")) from None
        except Exception as exc:
            raise GroupUnreadable(group_id, type(exc).__name__) from None
        if members is None:
            raise GroupUnreadable(group_id, "no_such_subteam")
        return members

    async def _members(self, group_id: str) -> frozenset[str] | None:
        cached = self._cache.get(group_id)
        if cached and self._monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        loading = self._loading.get(group_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(group_id))
            self._loading[group_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(group_id, None))
        return await asyncio.shield(loading)

    async def _load(self, group_id: str) -> frozenset[str] | None:
        started = self._monotonic()
        members: frozenset[str] | None
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
            users: list[str] = response.get("users") or []
            members = frozenset(str(user) for user in users)
        except SlackApiError as exc:
            if exc.response.get("error") not in UNKNOWN_GROUP_ERRORS:
                raise
            members = None
        self._cache[group_id] = (started, members)
        return members
