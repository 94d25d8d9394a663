"""Refused requests to ``/slack/events`` (forged, unsigned, stale, replayed) go to the audit trail, aggregated.

The 401 never waits for this: a refusal is counted in memory and the counts go to Redis (``RefusalTally``) with
at most one write in flight per process, so a flood of forged requests costs a handful of round trips rather
than one each, and the audit trail gets at most one record per reason per minute.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.ackpath.verify import Refused
from bot.metrics import Metrics
from jit.store.refusals import RefusalTally

log = logging.getLogger(__name__)
PEER_LIMIT = 64


class RefusalRecorder:
    """Counts each refused request (metric at once, audit trail in batches); never raises, never blocks."""

    def __init__(self, tally: RefusalTally, metrics: Metrics, tasks: set[asyncio.Task[Any]]):
        self.tally = tally
        self.metrics = metrics
        self.tasks = tasks
        self._pending: dict[Refused, tuple[int, dict[str, str]]] = {}
        self._flushing = False

    def refused(self, why: Refused, *, peer: str | None, path: str) -> None:
        """Note one refusal; the first of a batch describes it (the peer's address and the path)."""
        self.metrics.slack_refused.labels(why=why.value).inc()
        count, detail = self._pending.get(why, (0, {"path": path[:PEER_LIMIT], "peer": (peer or "")[:PEER_LIMIT]}))
        self._pending[why] = (count + 1, detail)
        if not self._flushing:
            self._flushing = True
            task = asyncio.ensure_future(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                for why, (count, detail) in batch.items():
                    try:
                        await self.tally.count(why.value, count, detail)
                    except Exception as exc:  # Redis away: the metric still counted it; the 401 went out anyway
                        log.warning("slack.refusal_not_audited", extra={"why": why.value, "error": type(exc).__name__})
        finally:
            self._flushing = False
