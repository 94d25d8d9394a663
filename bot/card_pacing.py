"""Approval cards at the rate Slack lets an app post in one channel, oldest first, each exactly once.

Slack allows about one ``chat.postMessage`` per second per channel, tolerates short bursts, and answers 429 with
``Retry-After`` past them (https://api.slack.com/docs/rate-limits). Until a channel answers 429, cards go out at
once. After a 429, the channel is paced: every card that wants it gets a turn, one ``interval`` apart, in the order
it first asked (the oldest request is the closest to timing out, so it is the most urgent), and its scheduled item
is handed back to run at that turn (``ChannelBusy``) instead of waiting in a worker while other work queues behind
it. A card posts only at its own turn and the post is never retried inside the call, so no card is posted twice
and every ``Retry-After`` is honoured: a 429 pushes the channel's next turn at least that far.

The pacing is per process. Several replicas each pace themselves; Slack's 429s, honoured the same way, keep them
within the limit together.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jit.clock import Clock

DEFAULT_INTERVAL = timedelta(seconds=1)
NOTICE = "backlog-notice"
PACED_FOR = timedelta(seconds=30)


@dataclass
class _Channel:
    next_turn: datetime
    paced_until: datetime
    turns: dict[str, datetime] = field(default_factory=dict)
    vms: dict[str, str] = field(default_factory=dict)
    backlog_peak: int = 0


class CardPacer:
    """Gives each card a turn in its channel; knows what waits (for the backlog notice)."""

    def __init__(self, clock: Clock, interval: timedelta = DEFAULT_INTERVAL):
        self._clock = clock
        self._interval = interval
        self._channels: dict[str, _Channel] = {}

    def turn(self, channel: str, key: str, vm: str) -> datetime | None:
        """None: post ``key`` now. Otherwise the time of its turn (it keeps that turn when asked again)."""
        now = self._clock.now()
        state = self._channels.get(channel)
        if state is None or (state.paced_until <= now and not state.turns):
            return None
        turn = state.turns.get(key)
        if turn is None:
            turn = max(state.next_turn, now)
            state.next_turn = turn + self._interval
            state.turns[key] = turn
            state.vms[key] = vm
            state.backlog_peak = max(state.backlog_peak, len(state.turns) - (NOTICE in state.turns))
        if turn > now:
            return turn
        return None

    def first(self, channel: str, key: str) -> datetime | None:
        """Give ``key`` the channel's next turn, moving every waiting card back one ``interval`` (cards handed back
        early simply get their new turn when they ask again). None when the channel is not paced: post now."""
        state = self._channels.get(channel)
        if state is None or not state.turns:
            return None
        if key not in state.turns:
            earliest = min(state.turns.values())
            state.turns = {k: turn + self._interval for k, turn in state.turns.items()}
            state.turns[key] = earliest
            state.vms[key] = ""
            state.next_turn += self._interval
        turn = state.turns[key]
        return turn if turn > self._clock.now() else None

    def cancel(self, channel: str, key: str) -> None:
        """``key`` no longer wants its turn."""
        state = self._channels.get(channel)
        if state is not None:
            state.turns.pop(key, None)
            state.vms.pop(key, None)

    def posted(self, channel: str, key: str) -> None:
        """``key`` was posted: its turn is used, and the channel stays paced a while."""
        state = self._channels.get(channel)
        if state is None:
            return
        state.turns.pop(key, None)
        state.vms.pop(key, None)
        now = self._clock.now()
        state.next_turn = max(state.next_turn, now + self._interval)
        state.paced_until = max(state.paced_until, now + PACED_FOR)

    def throttled(self, channel: str, key: str, vm: str, retry_after: float) -> datetime:
        """Slack answered 429 for ``key``: pace the channel, move every turn to after ``Retry-After`` (order and
        spacing kept), and return the card's new turn, at the end of the queue."""
        now = self._clock.now()
        state = self._channels.get(channel)
        earliest = now + timedelta(seconds=max(retry_after, self._interval.total_seconds()))
        if state is None:
            state = _Channel(next_turn=earliest, paced_until=now + PACED_FOR)
            self._channels[channel] = state
        state.paced_until = max(state.paced_until, now + PACED_FOR)
        state.turns.pop(key, None)
        cursor = earliest
        for waiting in sorted(state.turns, key=state.turns.__getitem__):
            state.turns[waiting] = max(state.turns[waiting], cursor)
            cursor = state.turns[waiting] + self._interval
        state.next_turn = max(state.next_turn, cursor)
        turn = self.turn(channel, key, vm)
        return turn if turn is not None else earliest

    def has_turn(self, channel: str, key: str) -> bool:
        """Whether ``key`` holds a turn in ``channel``."""
        state = self._channels.get(channel)
        return state is not None and key in state.turns

    def waiting(self, channel: str) -> int:
        """How many cards wait for a turn in ``channel`` (the backlog notice's own turn not counted)."""
        state = self._channels.get(channel)
        return len(state.turns) - (NOTICE in state.turns) if state is not None else 0

    def busiest(self, channel: str, top: int = 3) -> list[tuple[str, int]]:
        """The VMs with the most waiting cards in ``channel``."""
        state = self._channels.get(channel)
        if state is None:
            return []
        return Counter(vm for key, vm in state.vms.items() if key != NOTICE).most_common(top)

    def last_turn(self, channel: str) -> datetime | None:
        """When the last waiting card gets its turn."""
        state = self._channels.get(channel)
        return max(state.turns.values()) if state is not None and state.turns else None

    def peak(self, channel: str) -> int:
        """The largest backlog since the channel last drained (reset by ``drained``)."""
        state = self._channels.get(channel)
        return state.backlog_peak if state is not None else 0

    def drained(self, channel: str) -> None:
        """The backlog is gone: forget its peak."""
        state = self._channels.get(channel)
        if state is not None:
            state.backlog_peak = 0
