"""Planning writes to shared ports: same-source holders keep their time, other sources are displaced, closing one
grant leaves everyone else's access alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from jit.holdings import open_ports
from jit.justification import Justification
from jit.model import AccessRequest, GrantedPort, JitRequestRecord, RequestState, VmRef
from jit.sharing import is_jitbot_entry, others, plan_closing, plan_opening, port_holders

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
VM = VmRef(
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01",
    "s",
    "rg",
    "web-01",
    "westeurope",
)
OFFICE = "203.0.113.10/32"
HOME = "198.51.100.7"
IN = timedelta(minutes=1)


def grant(
    request_id: str, requester: str, ends_in: int, ports: tuple[int, ...] = (22,), source: str = OFFICE
) -> AccessRequest:
    return AccessRequest(
        id=request_id,
        requester=requester,
        vm=VM,
        ports=ports,
        source=source,
        duration=timedelta(hours=1),
        reason="",
        state=RequestState.ACTIVE,
        created_at=NOW - timedelta(hours=1),
        starts_at=NOW - timedelta(minutes=30),
        ends_at=NOW + ends_in * IN,
        attempts=(f"{request_id[-2:]}0000000000",),
    )


def entry(
    request: AccessRequest | None,
    started_ago: int,
    ends_in: int,
    *,
    port: int = 22,
    source: str = OFFICE,
    status: str = "Initiated",
    reason: str = "UserRequested",
    requestor: str = "jitbot-mi",
) -> JitRequestRecord:
    attempt = request.attempts[0] if request else None
    text = Justification(request.id, request.requester, "U9", attempt=attempt).render() if request else "portal"
    return JitRequestRecord(
        VM.id,
        NOW - started_ago * IN,
        requestor,
        text,
        (GrantedPort(port, source, NOW + ends_in * IN, status, reason),),
        request_id=request.id if request else None,
        attempt=attempt,
    )


def test_an_entry_is_jitbots_only_with_a_marker_the_request_recorded() -> None:
    alice = grant("jr-a1", "U1ALICE", 120)
    known = {alice.id: alice}
    assert is_jitbot_entry("jr-a1", alice.attempts[0], known)
    assert not is_jitbot_entry("jr-a1", "ffffffffffff", known), "copied text with a marker jitbot never issued"
    assert not is_jitbot_entry("jr-a1", None, known)
    assert not is_jitbot_entry("jr-zz", alice.attempts[0], known)


def test_same_source_opening_keeps_the_earlier_holder_open_until_their_end() -> None:
    alice = grant("jr-a1", "U1ALICE", 180)
    held = port_holders(open_ports([entry(alice, 10, 180)], NOW), {alice.id: alice}, NOW)
    plan = plan_opening([22, 8080], "203.0.113.10", NOW + 60 * IN, held, {22: NOW + 240 * IN, 8080: NOW + 60 * IN})
    assert plan.ends == {22: NOW + 180 * IN, 8080: NOW + 60 * IN}
    assert [h.who for h in plan.sharing] == ["U1ALICE"]
    assert plan.displaced == ()


def test_same_source_ends_never_pass_the_policy_limit() -> None:
    alice = grant("jr-a1", "U1ALICE", 180)
    held = port_holders(open_ports([entry(alice, 10, 180)], NOW), {alice.id: alice}, NOW)
    plan = plan_opening([22], OFFICE, NOW + 60 * IN, held, {22: NOW + 90 * IN})
    assert plan.ends == {22: NOW + 90 * IN}


def test_another_source_displaces_every_holder_of_the_port() -> None:
    alice, bob = grant("jr-a1", "U1ALICE", 180), grant("jr-b2", "U2BOB", 40)
    records = [entry(alice, 30, 180, status="Revoked", reason="NewerRequestInitiated"), entry(bob, 10, 180)]
    held = port_holders(open_ports(records, NOW), {alice.id: alice, bob.id: bob}, NOW)
    plan = plan_opening([22], HOME, NOW + 60 * IN, held, {})
    assert plan.ends == {22: NOW + 60 * IN}
    assert sorted(h.who for h in plan.displaced) == ["U1ALICE", "U2BOB"]
    assert plan.free_at == NOW + 180 * IN
    assert {h.end for h in plan.displaced} == {NOW + 180 * IN, NOW + 40 * IN}, "each holder until its own end"


def test_outside_holders_count_until_their_entry_ends() -> None:
    records = [entry(None, 5, 25, requestor="carol@contoso.com")]
    held = port_holders(open_ports(records, NOW), {}, NOW)
    plan = plan_opening([22], OFFICE, NOW + 10 * IN, held, {})
    assert plan.ends == {22: NOW + 25 * IN}
    assert [h.who for h in plan.sharing] == ["carol@contoso.com"]


def test_ended_or_displaced_jitbot_grants_are_not_holders() -> None:
    revoked = replace(grant("jr-r1", "U1ALICE", 120), state=RequestState.REVOKED)
    lost = replace(grant("jr-l2", "U2BOB", 120), lost_ports=(22,))
    records = [entry(revoked, 30, 120, status="Revoked", reason="NewerRequestInitiated"), entry(lost, 10, 120)]
    held = port_holders(open_ports(records, NOW), {revoked.id: revoked, lost.id: lost}, NOW)
    assert held[22].holders == ()
    assert held[22].jitbot_window


def test_closing_the_only_holder_deletes_the_rule() -> None:
    alice = grant("jr-a1", "U1ALICE", 120, ports=(22, 8080))
    records = [entry(alice, 10, 120), entry(alice, 10, 120, port=8080)]
    held = port_holders(open_ports(records, NOW), {alice.id: alice}, NOW)
    assert plan_closing(alice, others(held, alice.id)) == plan_closing(alice, {})
    assert plan_closing(alice, others(held, alice.id)).delete == (22, 8080)


def test_closing_the_later_holder_shortens_the_window_to_the_other_holders_end() -> None:
    alice, bob = grant("jr-a1", "U1ALICE", 180), grant("jr-b2", "U2BOB", 60)
    records = [entry(bob, 30, 60, status="Revoked", reason="NewerRequestInitiated"), entry(alice, 10, 180)]
    held = port_holders(open_ports(records, NOW), {alice.id: alice, bob.id: bob}, NOW)
    plan = plan_closing(alice, others(held, alice.id))
    assert plan.delete == ()
    assert plan.shorten == {22: NOW + 60 * IN}


def test_closing_the_earlier_holder_leaves_the_port_alone() -> None:
    alice, bob = grant("jr-a1", "U1ALICE", 180), grant("jr-b2", "U2BOB", 60)
    records = [entry(alice, 30, 180, status="Revoked", reason="NewerRequestInitiated"), entry(bob, 10, 180)]
    held = port_holders(open_ports(records, NOW), {alice.id: alice, bob.id: bob}, NOW)
    plan = plan_closing(bob, others(held, bob.id))
    assert (plan.delete, dict(plan.shorten), plan.lost) == ((), {}, ())


def test_closing_a_port_another_source_took_does_nothing_to_it() -> None:
    alice = grant("jr-a1", "U1ALICE", 180)
    records = [entry(alice, 30, 180, status="Revoked", reason="NewerRequestInitiated"), entry(None, 5, 30, source=HOME)]
    held = port_holders(open_ports(records, NOW), {alice.id: alice}, NOW)
    assert plan_closing(alice, others(held, alice.id)).lost == (22,)
