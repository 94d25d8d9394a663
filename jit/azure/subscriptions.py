"""Which subscriptions jitbot searches: the fixed ``AZURE_SUBSCRIPTION_IDS``, or every subscription under
``AZURE_MANAGEMENT_GROUP`` (at any depth), re-listed periodically so a new subscription is found without a restart.

The listing is Microsoft.Management's "Get Descendants" (``GET /providers/Microsoft.Management/managementGroups/
{groupId}/descendants``, api-version 2023-04-01): management groups and subscriptions below the group, where a
subscription's ``name`` is its id and its ``type`` ``/subscriptions`` (the API description) or
``Microsoft.Management/managementGroups/subscriptions`` (the 2023-04-01 example). It needs
``Microsoft.Management/managementGroups/descendants/read`` on the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from azure.core.rest import HttpRequest

from jit.azure.cache import TtlCache
from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors
from jit.clock import Clock

MANAGEMENT_API_VERSION = "2023-04-01"
SUBSCRIPTION_TYPES = frozenset({"/subscriptions", "microsoft.management/managementgroups/subscriptions"})
GROUP_REFRESH = timedelta(minutes=5)


def subscriptions_in(descendants: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The subscription ids among a management group's descendants, in Azure's order, without repeats."""
    found: dict[str, str] = {}
    for item in descendants:
        if str(item.get("type", "")).lower() in SUBSCRIPTION_TYPES and item.get("name"):
            name = str(item["name"])
            found.setdefault(name.lower(), name)
    return tuple(found.values())


class ManagementGroupReader:
    """Lists a management group's descendants (every page)."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def descendants(self, group: str) -> list[dict[str, Any]]:
        """Every management group and subscription below ``group``."""
        client = self._clients.plain()
        url: str | None = f"/providers/Microsoft.Management/managementGroups/{group}/descendants"
        params: dict[str, str] | None = {"api-version": MANAGEMENT_API_VERSION}
        found: list[dict[str, Any]] = []
        with azure_errors():
            while url:
                response = await client.send_request(HttpRequest("GET", client.format_url(url), params=params))
                response.raise_for_status()
                body = response.json()
                found.extend(item for item in body.get("value") or [] if isinstance(item, dict))
                url, params = body.get("nextLink"), None
        return found


class SubscriptionSource:
    """The subscriptions to search now. A fixed list never changes; a management group's is cached for ``refresh``
    and can be re-listed early (``refresh_if_older``) when a lookup misses."""

    def __init__(
        self,
        fixed: Sequence[str],
        clock: Clock,
        *,
        reader: ManagementGroupReader | None = None,
        management_group: str | None = None,
        refresh: timedelta = GROUP_REFRESH,
    ):
        self.fixed = tuple(fixed)
        self.management_group = management_group if reader is not None else None
        self._reader = reader
        self._cache: TtlCache[str, tuple[str, ...]] = TtlCache(clock, refresh)

    async def current(self) -> tuple[str, ...]:
        """The subscription ids to search (raises the typed Azure error when the group cannot be listed)."""
        group, reader = self.management_group, self._reader
        if group is None or reader is None:
            return self.fixed

        async def load() -> tuple[str, ...]:
            return subscriptions_in(await reader.descendants(group))

        return await self._cache.get(group, load)

    def refresh_if_older(self, age: timedelta) -> bool:
        """Forget a group listing older than ``age`` (a VM was not found: its subscription may be new)."""
        group = self.management_group
        if group is None:
            return False
        current = self._cache.age(group)
        if current is not None and current >= age:
            self._cache.invalidate(group)
            return True
        return False
