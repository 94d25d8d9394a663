"""``CardPacer``: one card per turn in a paced channel, oldest first, however late the cards ask."""

from __future__ import annotations

from datetime import timedelta

from bot.card_pacing import REPLY, STALE_AFTER, CardPacer
from jit.clock import ManualClock

CHANNEL = "C0APPROVAL"
SECOND = timedelta(seconds=1)


def _paced(clock: ManualClock, waiting: int) -> CardPacer:
    """A channel Slack just answered 429 (Retry-After 1) for card-0, with ``waiting`` more cards queued."""
    pacer = CardPacer(clock)
    pacer.throttled(CHANNEL, "card-0", "vm", 1.0)
    for n in range(1, waiting + 1):
        assert pacer.turn(CHANNEL, f"card-{n}", "vm") is not None
    return pacer


def test_cards_whose_turns_passed_while_the_scheduler_lagged_still_go_one_per_second() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 4)

    clock.advance(timedelta(seconds=30))  # every turn has passed; the items all run now
    allowed = [key for key in (f"card-{n}" for n in range(5)) if pacer.turn(CHANNEL, key, "vm") is None]

    assert allowed == ["card-0"], "only the head of the queue posts"
    pacer.posted(CHANNEL, "card-0")
    assert pacer.turn(CHANNEL, "card-1", "vm") == clock.now() + SECOND
    assert pacer.turn(CHANNEL, "card-2", "vm") == clock.now() + 2 * SECOND


def test_a_card_in_flight_keeps_the_next_one_waiting() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 1)
    clock.advance(SECOND)

    assert pacer.turn(CHANNEL, "card-0", "vm") is None
    clock.advance(3 * SECOND)  # card-0's post has not come back yet

    assert pacer.turn(CHANNEL, "card-1", "vm") is not None


def test_a_refused_card_keeps_its_place_and_nothing_goes_before_retry_after() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 2)
    clock.advance(SECOND)
    assert pacer.turn(CHANNEL, "card-0", "vm") is None

    again = pacer.throttled(CHANNEL, "card-0", "vm", 3.0)

    assert again == clock.now() + 3 * SECOND
    assert pacer.turn(CHANNEL, "card-1", "vm") == again + SECOND
    assert pacer.turn(CHANNEL, "card-2", "vm") == again + 2 * SECOND
    assert pacer.last_turn(CHANNEL) == again + 2 * SECOND


def test_an_unpaced_channel_posts_at_once_and_a_drained_one_returns_to_that() -> None:
    clock = ManualClock()
    pacer = CardPacer(clock)
    assert pacer.turn(CHANNEL, "card-0", "vm") is None
    pacer = _paced(clock, 0)
    clock.advance(SECOND)
    assert pacer.turn(CHANNEL, "card-0", "vm") is None
    pacer.posted(CHANNEL, "card-0")

    clock.advance(timedelta(minutes=1))

    assert pacer.turn(CHANNEL, "card-9", "vm") is None
    assert pacer.waiting(CHANNEL) == 0


def test_a_reminder_in_a_thread_takes_a_turn_but_is_not_a_waiting_card() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 1)

    reply = pacer.turn(CHANNEL, f"{REPLY}card-0", "vm")

    assert reply == pacer.last_turn(CHANNEL), "after the cards queued before it"
    assert pacer.waiting(CHANNEL) == 2
    assert pacer.busiest(CHANNEL) == [("vm", 2)]


def test_a_withdrawn_reminder_gives_its_turn_to_the_card_behind_it() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 0)
    reply = pacer.turn(CHANNEL, f"{REPLY}card-0", "vm")
    assert reply is not None
    card = pacer.turn(CHANNEL, "card-1", "vm")
    assert card == reply + SECOND

    clock.advance(SECOND)
    assert pacer.turn(CHANNEL, "card-0", "vm") is None
    pacer.posted(CHANNEL, "card-0")

    pacer.cancel(CHANNEL, f"{REPLY}card-0")  # its request was decided: the reminder will not come back
    clock.advance(card - clock.now())

    assert pacer.turn(CHANNEL, "card-1", "vm") is None, "the card posts at its turn, not held behind the reminder's"


def test_a_card_that_never_comes_back_gives_up_its_place() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 2)
    clock.advance(SECOND)
    assert pacer.turn(CHANNEL, "card-0", "vm") is None  # told to post; its request is then cancelled, no post

    clock.advance(STALE_AFTER + 2 * SECOND)  # card-1's item did not come back either (decided meanwhile)

    assert pacer.turn(CHANNEL, "card-2", "vm") is None, "nothing stale holds the head of the queue"
    assert pacer.waiting(CHANNEL) == 1


def test_the_next_turn_is_one_interval_after_a_card_is_told_to_post_however_long_its_post_takes() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 2)
    clock.advance(SECOND)
    told = clock.now()
    assert pacer.turn(CHANNEL, "card-0", "vm") is None

    clock.advance(timedelta(milliseconds=300))  # the post's round trip
    pacer.posted(CHANNEL, "card-0")

    assert pacer.turn(CHANNEL, "card-1", "vm") == told + SECOND
    assert pacer.turn(CHANNEL, "card-2", "vm") == told + 2 * SECOND


def test_a_post_still_out_at_the_next_turn_holds_that_card_back_and_it_keeps_its_place() -> None:
    clock = ManualClock()
    pacer = _paced(clock, 2)
    clock.advance(SECOND)
    assert pacer.turn(CHANNEL, "card-0", "vm") is None

    clock.advance(timedelta(milliseconds=1500))  # card-1's turn has come; card-0's post has not come back

    assert pacer.turn(CHANNEL, "card-1", "vm") == clock.now() + SECOND
    assert pacer.turn(CHANNEL, "card-2", "vm") is not None
    pacer.posted(CHANNEL, "card-0")
    assert pacer.turn(CHANNEL, "card-1", "vm") is None
    assert pacer.turn(CHANNEL, "card-2", "vm") == clock.now() + SECOND
