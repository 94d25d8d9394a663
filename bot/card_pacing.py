"""Approval cards at the rate Slack lets an app post in one channel, oldest first, each exactly once.

Slack allows about one ``chat.postMessage`` per second per channel, tolerates short bursts, and answers 429 with
``Retry-After`` past them (https://api.slack.com/docs/rate-limits). Until a channel answers 429, cards go out at
once. After a 429, the channel is paced: every card that wants it gets a turn, one ``interval`` apart, in the order
it first asked (the oldest request is the closest to timing out, so it is the most urgent), and its scheduled item
is parked until that turn (``ChannelBusy``: ``jit.scheduler`` keeps it claimed and runs it again from a timer in
this process) instead of waiting in a worker while other work queues behind it. A card posts only at its own turn
and the post is never retried inside the call, so no card is posted twice and every ``Retry-After`` is honoured: a
429 pushes the channel's next turn at least that far, and the refused card keeps its place at the head of the
queue.

Turns are re-spaced whenever a card asks: however late its scheduled item runs, at most one card holds a turn that
has come, and the next comes one ``interval`` after the moment it was told to post — not after its post comes back,
so the round trip costs no rate; a post still out when the next turn comes holds that card back — so late items
never post together and run into the limit. A card that was promised a turn (or told to post) and has
neither asked again nor posted ``STALE_AFTER`` after it (its request was decided or cancelled, so its item will not
come back; its post failed for good) gives up its place, so it cannot hold the head of the queue.

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
REPLY = "reply:"
"""The prefix of a thread reply's key (a reminder to approvers): it takes a turn like a card, after the cards
queued before it, but is not counted as a waiting card."""
PACED_FOR = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=1)


@dataclass
class _Channel:
    next_turn: datetime
    paced_until: datetime
    free_at: datetime
    turns: dict[str, datetime] = field(default_factory=dict)
    asked: dict[str, datetime] = field(default_factory=dict)
    promised: dict[str, datetime] = field(default_factory=dict)
    vms: dict[str, str] = field(default_factory=dict)
    flying: dict[str, datetime] = field(default_factory=dict)
    backlog_peak: int = 0


class CardPacer:
    """Gives each card a turn in its channel; knows what waits (for the backlog notice)."""

    def __init__(self, clock: Clock, interval: timedelta = DEFAULT_INTERVAL):
        self._clock = clock
        self._interval = interval
        self._channels: dict[str, _Channel] = {}

    def turn(self, channel: str, key: str, vm: str) -> datetime | None:
        """None: post ``key`` now. Otherwise the time of its turn (its place in the queue is kept when asked again)."""
        now = self._clock.now()
        state = self._channels.get(channel)
        if state is None or (state.paced_until <= now and not state.turns):
            return None
        state.asked[key] = now
        if key not in state.turns:
            state.turns[key] = max(state.next_turn, now)
            state.vms[key] = vm
            state.backlog_peak = max(state.backlog_peak, self.waiting(channel))
        return self._promise(state, key, now)

    def _promise(self, state: _Channel, key: str, now: datetime) -> datetime | None:
        """Re-space the queue and promise ``key`` its turn; None when it has come (post now: the next turn is then
        one ``interval`` after this moment, not after the post comes back, so the round trip costs no rate)."""
        self._respace(state, now)
        turn = state.promised[key] = state.turns[key]
        if turn > now:
            return turn
        if any(other != key for other in state.flying):
            return now + self._interval  # a slow post is still out: this card waits, keeping its place
        del state.turns[key]
        state.flying[key] = now
        state.free_at = max(state.free_at, now + self._interval)
        return None

    def _respace(self, state: _Channel, now: datetime) -> None:
        """Keep the queue's order and make every turn at least ``interval`` after the one before, the first no
        earlier than the channel is free: only the head of the queue can have a turn that has come."""
        for key in [k for k, promised in state.promised.items() if _stale(state, k, promised, now)]:
            self._forget(state, key)
        cursor = state.free_at
        for key in sorted(state.turns, key=state.turns.__getitem__):
            turn = max(state.turns[key], cursor)
            if turn < now:
                turn = now
            state.turns[key] = turn
            cursor = turn + self._interval
        state.next_turn = max(state.next_turn, cursor)

    def first(self, channel: str, key: str) -> datetime | None:
        """Give ``key`` the channel's next turn, moving every waiting card back one ``interval`` (cards parked for an
        earlier turn simply get their new turn when they ask again). None when the channel is not paced: post now."""
        state = self._channels.get(channel)
        if state is None or not state.turns:
            return None
        if key not in state.turns:
            earliest = min(state.turns.values())
            state.turns = {k: turn + self._interval for k, turn in state.turns.items()}
            state.turns[key] = earliest
            state.vms[key] = ""
            state.next_turn += self._interval
        now = self._clock.now()
        state.asked[key] = now
        return self._promise(state, key, now)

    def cancel(self, channel: str, key: str) -> None:
        """``key`` no longer wants its turn."""
        state = self._channels.get(channel)
        if state is not None:
            self._forget(state, key)

    def posted(self, channel: str, key: str) -> None:
        """``key`` was posted: its turn is used (the next one was set when it was told to post), and the channel
        stays paced a while."""
        state = self._channels.get(channel)
        if state is None:
            return
        self._forget(state, key)
        state.next_turn = max(state.next_turn, state.free_at)
        state.paced_until = max(state.paced_until, self._clock.now() + PACED_FOR)

    def throttled(self, channel: str, key: str, vm: str, retry_after: float) -> datetime:
        """Slack answered 429 for ``key``: pace the channel, nothing before ``Retry-After`` has passed, and return the
        card's new turn (it keeps its place in the queue: a card that was asked for first is posted first)."""
        now = self._clock.now()
        state = self._channels.get(channel)
        earliest = now + timedelta(seconds=max(retry_after, self._interval.total_seconds()))
        if state is None:
            state = _Channel(next_turn=earliest, paced_until=now + PACED_FOR, free_at=earliest)
            self._channels[channel] = state
        state.paced_until = max(state.paced_until, now + PACED_FOR)
        state.free_at = max(state.free_at, earliest)
        state.flying.pop(key, None)
        state.turns.setdefault(key, now)
        state.vms.setdefault(key, vm)
        self._respace(state, now)
        state.asked[key] = now
        turn = state.promised[key] = state.turns[key]
        return turn

    @staticmethod
    def _forget(state: _Channel, key: str) -> None:
        for kept in (state.turns, state.asked, state.promised, state.vms, state.flying):
            kept.pop(key, None)

    def has_turn(self, channel: str, key: str) -> bool:
        """Whether ``key`` holds a turn in ``channel``."""
        state = self._channels.get(channel)
        return state is not None and key in state.turns

    def waiting(self, channel: str) -> int:
        """How many cards wait for a turn in ``channel`` or are being posted at theirs (the backlog notice's own turn
        not counted)."""
        state = self._channels.get(channel)
        return sum(1 for key in (*state.turns, *state.flying) if _is_card(key)) if state is not None else 0

    def busiest(self, channel: str, top: int = 3) -> list[tuple[str, int]]:
        """The VMs with the most waiting cards in ``channel``."""
        state = self._channels.get(channel)
        if state is None:
            return []
        return Counter(vm for key, vm in state.vms.items() if _is_card(key)).most_common(top)

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


def _is_card(key: str) -> bool:
    return key != NOTICE and not key.startswith(REPLY)


def _stale(state: _Channel, key: str, promised: datetime, now: datetime) -> bool:
    """``key`` was promised a turn (or told to post) more than ``STALE_AFTER`` ago and has not asked since."""
    return now - promised > STALE_AFTER and state.asked.get(key, promised) <= promised
