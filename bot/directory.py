"""User-group membership from Slack, cached briefly so approval clicks stay fast and Slack is not hammered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


class SlackDirectory:
    """Implements ``jit.ports.Directory`` with ``usergroups.users.list`` and a TTL cache."""

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
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._loading: dict[str, asyncio.Task[frozenset[str]]] = {}

    async def group_members(self, group_id: str) -> frozenset[str]:
        """Members of ``group_id``; an unknown or disabled group has no members (nobody gains rights).

        Concurrent cold lookups of one group share a single ``usergroups.users.list`` call.
        """
        cached = self._cache.get(group_id)
        if cached and self._monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        loading = self._loading.get(group_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(group_id))
            self._loading[group_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(group_id, None))
        return await asyncio.shield(loading)

    async def _load(self, group_id: str) -> frozenset[str]:
        started = self._monotonic()
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
            users: list[str] = response.get("users") or []
            members = frozenset(str(user) for user in users)
        except SlackApiError as exc:
            if exc.response.get("error") in ("no_such_subteam", "subteam_not_found", "invalid_usergroup"):
                members = frozenset()
            else:
                raise
        self._cache[group_id] = (started, members)
        return members
