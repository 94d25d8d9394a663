"""Telling people (``jit.telling``): every message goes out from a durable item, once however often the item runs,
rendered from the request as it is now, and again after a failure until it went out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from jit.card_context import RequesterHistory, requester_history_of, security_context_of
from jit.model import AccessRequest, GrantedPort, JitRequestRecord, RequestState
from jit.routing import ConflictChoice, Escalation
from jit.schedule_items import Kind
from tests.jit.doubles.world import (
    APPROVER,
    COLLEAGUE,
    ESCALATION_APPROVER,
    ESCALATION_GROUP,
    OTHER_SOURCE,
    REQUESTER,
    VM_REF,
    World,
    rule,
)

S = RequestState


def outcomes(world: World, request_id: str) -> list[RequestState]:
    return [m.request.state for m in world.notifier.sent("tell_requester", request_id) if m.request]


async def test_the_card_is_posted_once_and_then_rerendered(world: World) -> None:
    request = await world.pending()
    card = world.service.dispatch.handlers[Kind.CARD]

    await world.run_due()
    posted = await world.current(request.id)
    await card(posted)

    assert len(world.notifier.sent("post_card", request.id)) == 1
    assert posted.card_ts is not None
    assert len(world.notifier.sent("update_card", request.id)) == 1


async def test_the_requester_hears_each_outcome_once(world: World) -> None:
    grant = await world.active()
    outcome = world.service.dispatch.handlers[Kind.OUTCOME]
    await world.run_due()

    await outcome(await world.current(grant.id))
    await world.service.revoke(grant.id, REQUESTER)
    await world.run_due()
    await outcome(await world.current(grant.id))

    assert outcomes(world, grant.id) == [S.ACTIVE, S.REVOKED]


async def test_the_card_shows_the_current_state_on_every_outcome(world: World) -> None:
    request = await world.pending()
    await world.run_due()

    await world.service.deny(request.id, APPROVER)
    await world.run_due()

    [update] = world.notifier.sent("update_card", request.id)
    assert update.request is not None and update.request.state is S.DENIED


async def test_a_message_that_failed_goes_out_when_its_item_runs_again(world: World) -> None:
    request = await world.pending()
    await world.run_due()
    await world.service.deny(request.id, APPROVER)
    world.notifier.fail_next("tell_requester", ConnectionError("Slack is down"))

    failed = await world.run_due()
    retried = await world.later(timedelta(seconds=30))

    assert f"outcome:{request.id}" in failed.failed and not retried.failed
    assert outcomes(world, request.id) == [S.DENIED]


async def test_on_call_hears_of_an_early_close_once(world: World) -> None:
    grant = await world.active()
    await world.service.revoke(grant.id, REQUESTER)
    outcome = world.service.dispatch.handlers[Kind.OUTCOME]

    await world.run_due()
    await outcome(await world.current(grant.id))

    assert len(world.notifier.sent("revoked", grant.id)) == 1
    assert outcomes(world, grant.id) == [S.REVOKED]


async def test_on_call_and_the_holder_hear_of_a_superseded_grant_once(world: World) -> None:
    colleague = await world.active(requester=COLLEAGUE, source=OTHER_SOURCE)
    await world.active()
    outcome = world.service.dispatch.handlers[Kind.OUTCOME]

    await world.run_due()
    await outcome(await world.current(colleague.id))

    assert len(world.notifier.sent("superseded", colleague.id)) == 1
    assert outcomes(world, colleague.id) == [S.SUPERSEDED]


async def test_the_escalated_copy_of_the_card_follows_the_outcome(world: World) -> None:
    world.router.rule = rule(approver_reminders=(), escalation=Escalation(timedelta(minutes=30), (ESCALATION_GROUP,)))
    request = await world.pending()
    await world.later(timedelta(minutes=30))

    await world.service.deny(request.id, ESCALATION_APPROVER)
    await world.run_due()

    [copy] = world.notifier.sent("update_copy", request.id)
    assert copy.request is not None and copy.request.state is S.DENIED


async def test_a_queued_request_is_told_once_per_wait(world: World) -> None:
    world.router.rule = rule(on_conflict=ConflictChoice.QUEUE)
    await world.active(requester=COLLEAGUE, source=OTHER_SOURCE, duration=timedelta(minutes=30))
    request = await world.pending()
    await world.service.approve(request.id, APPROVER)
    queued = world.service.dispatch.handlers[Kind.QUEUED]

    await world.run_due()
    await queued(await world.current(request.id))

    [told] = world.notifier.sent("tell_requester", request.id)
    assert told.request is not None and told.request.state is S.APPROVED


async def test_a_request_that_is_not_queued_is_not_told_it_waits(world: World) -> None:
    grant = await world.active()

    await world.service.dispatch.handlers[Kind.QUEUED](grant)

    assert world.notifier.sent("tell_requester") == []


async def test_the_holder_hears_of_each_loss_of_some_ports_once(world: World) -> None:
    grant = await world.active(ports=(22, 3389))
    await world.run_due()
    ports_lost = world.service.dispatch.handlers[Kind.LOST]
    await world.active(requester=COLLEAGUE, source=OTHER_SOURCE, ports=(22,))

    await world.run_due()
    await ports_lost(await world.current(grant.id))

    [told] = world.notifier.sent("ports_lost", grant.id)
    assert told.request is not None and told.request.lost_ports == (22,)
    assert (await world.current(grant.id)).state is S.ACTIVE


async def test_on_call_hears_once_whose_outside_access_a_grant_closed(world: World) -> None:
    now = world.clock.now()
    world.azure.add_record(
        JitRequestRecord(
            VM_REF.id,
            now,
            "carol@example.com",
            "portal",
            (GrantedPort(22, OTHER_SOURCE, now + timedelta(hours=1), "Initiated"),),
        )
    )
    grant = await world.active()
    outside_closed = world.service.dispatch.handlers[Kind.DISPLACED]

    await world.run_due()
    await outside_closed(await world.current(grant.id))

    [told] = world.notifier.sent("outside_closed", grant.id)
    assert told.request is not None and "carol@example.com" in told.request.extra["displaced_outside"]


async def test_the_card_takes_the_security_context_once_and_keeps_it(world: World) -> None:
    request = await world.pending()
    card = world.service.dispatch.handlers[Kind.CARD]

    await world.run_due()
    posted = await world.current(request.id)
    await card(replace(posted, card_ts=None))

    assert world.azure.calls.count("security_context") == 1, "a repeated card item reads Azure no more"
    assert security_context_of(posted) is not None
    assert requester_history_of(posted) == RequesterHistory(0, None)
    shown = world.notifier.sent("post_card", request.id)[0].request
    assert shown is not None and security_context_of(shown) is not None, "the card is drawn with the context"


async def test_the_requester_history_counts_their_grants_on_this_vm_in_the_last_30_days(world: World) -> None:
    earlier = await world.active()
    await world.service.revoke(earlier.id, REQUESTER)
    world.clock.advance(timedelta(days=2))

    request = await world.pending()
    await world.run_due()

    history = requester_history_of(await world.current(request.id))
    opened = (await world.current(earlier.id)).starts_at
    assert history == RequesterHistory(1, opened)


async def test_the_card_reads_only_the_requesters_requests_that_were_ever_open(world: World) -> None:
    read_states: list[set[RequestState]] = []
    by_requester = world.records.by_requester

    async def recording(user_id: str, states: Iterable[RequestState] | None = None) -> list[AccessRequest]:
        read_states.append(set(RequestState) if states is None else set(states))
        return await by_requester(user_id, states)

    world.records.by_requester = recording  # type: ignore[method-assign]
    request = await world.pending()
    await world.run_due()

    assert requester_history_of(await world.current(request.id)) == RequesterHistory(0, None)
    assert read_states == [{S.ACTIVE, S.EXPIRED, S.REVOKED, S.SUPERSEDED}], (
        "pending, denied, cancelled, timed-out and failed requests never opened: a card must not read them all"
    )
