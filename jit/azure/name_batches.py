"""VM lookups by name that share Resource Graph queries: while one round of queries is in flight, every other name
asked for waits and goes into the next round, as one ``name in~ (…)`` query (``MAX_NAMES`` at most).

Resource Graph allows 15 queries per 5 seconds per principal
(https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests). A lookup costs
two queries (the VMs, then their network wiring), so without sharing, eight people asking for eight different VMs
at once already exceed the quota and a burst of requests is answered "Azure is throttling". With sharing, a burst
costs two queries per round, however many names it asks for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from jit.azure.graph_assembly import GraphVms
from jit.azure.resource_graph import GraphVmSource

MAX_NAMES = 200


class NameBatches:
    """Answers ``find(name)`` with a ``GraphVms`` that holds (at least) every VM called ``name`` in the scope."""

    def __init__(self, source: GraphVmSource, subscriptions: Sequence[str], management_group: str | None):
        self._source = source
        self._subscriptions = tuple(subscriptions)
        self._group = management_group
        self._waiting: list[tuple[str, asyncio.Future[GraphVms | None]]] = []
        self._rounds: asyncio.Task[None] | None = None

    async def find(self, name: str) -> GraphVms | None:
        """The VMs of the round that asked for ``name``; None when Resource Graph is not usable."""
        future: asyncio.Future[GraphVms | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((name.lower(), future))
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.create_task(self._run_rounds())
        return await future

    async def _run_rounds(self) -> None:
        while self._waiting:
            names = list(dict.fromkeys(name for name, _ in self._waiting))[:MAX_NAMES]
            wanted = set(names)
            batch = [entry for entry in self._waiting if entry[0] in wanted]
            self._waiting = [entry for entry in self._waiting if entry[0] not in wanted]
            try:
                found = await self._source.find_names(names, self._subscriptions, self._group)
            except Exception as exc:  # every waiter gets the round's failure, whatever it is
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(found)
