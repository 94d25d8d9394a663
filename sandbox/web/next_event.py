"""When the next thing a person would notice happens: what the page's "Next event" button jumps to.

The schedule also holds the bot's own upkeep (``Routine`` items) and items whose request has moved on
so far that their handler will do nothing (``jit.schedule_items.has_work``: an approver reminder of a request
already decided, an end-of-access reminder of access already closed). Jumping to those would show nothing, so
they are skipped; the scheduler still runs them when their time comes.
"""

from __future__ import annotations

from datetime import datetime

from jit.ports.records import RequestRecords
from jit.schedule_items import Routine, has_work, parse_item
from jit.store.schedule import Schedule

HOUSEKEEPING = frozenset(routine.value for routine in Routine)
"""Schedule items that are the bot's own upkeep (the Azure sync, the weekly review), not events for people."""
LOOK_AHEAD = 200
"""How many items are looked at before giving up; more no-ops than this in a row is not a demo."""


async def next_event(schedule: Schedule, records: RequestRecords) -> datetime | None:
    """When the earliest item that will do something is due; None when there is none (within ``LOOK_AHEAD``)."""
    for key, due in await schedule.upcoming(LOOK_AHEAD):
        if key in HOUSEKEEPING:
            continue
        parsed = parse_item(key)
        if parsed is not None:
            kind, request_id = parsed
            request = await records.get(request_id)
            if request is None or not has_work(kind, request.state):
                continue
        return due
    return None
