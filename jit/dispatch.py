"""Which use case runs when a schedule item falls due: exactly one handler per ``Kind`` and per ``Routine``, checked
when built."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence

from jit.model import AccessRequest
from jit.ports.records import RequestRecords
from jit.schedule_items import Kind, Routine, parse_item

log = logging.getLogger(__name__)

Handler = Callable[[AccessRequest], Awaitable[None]]
RoutineHandler = Callable[[], Awaitable[object]]


class IncompleteDispatch(Exception):
    """A schedule kind or routine has no handler, or more than one (a wiring bug: jitbot refuses to start)."""


class Dispatch:
    """Runs one due item: a routine's handler, or the handler of its kind with the request as it is now."""

    def __init__(
        self,
        handlers: Iterable[tuple[Kind, Handler]],
        store: RequestRecords,
        routines: Iterable[tuple[Routine, RoutineHandler]],
    ):
        pairs = list(handlers)
        routine_pairs = list(routines)
        _check_complete("schedule kinds", Kind, [kind for kind, _ in pairs])
        _check_complete("routines", Routine, [routine for routine, _ in routine_pairs])
        self.handlers: dict[Kind, Handler] = dict(pairs)
        self.routines: dict[str, RoutineHandler] = {routine.value: run for routine, run in routine_pairs}
        self.store = store

    async def handle(self, key: str) -> None:
        """Run the item ``key``; safe to run again for the same key (at-least-once delivery)."""
        routine = self.routines.get(key)
        if routine is not None:
            await routine()
            return
        parsed = parse_item(key)
        if parsed is None:
            log.warning("schedule.unknown_item", extra={"key": key})
            return
        kind, request_id = parsed
        request = await self.store.get(request_id)
        if request is None:
            log.warning("schedule.unknown_request", extra={"request_id": request_id})
            return
        await self.handlers[kind](request)


def _check_complete(what: str, every: Iterable[Kind] | Iterable[Routine], given: Sequence[Kind | Routine]) -> None:
    counts = Counter(given)
    missing = sorted(member.value for member in every if member not in counts)
    doubled = sorted(member.value for member, n in counts.items() if n > 1)
    if missing or doubled:
        raise IncompleteDispatch(f"{what} without a handler: {missing}; with several: {doubled}")
