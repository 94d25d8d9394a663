"""Reading who holds each port from Azure's history: same-source chains, superseding, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jit.holdings import open_ports, same_network
from jit.justification import Justification
from jit.model import GrantedPort, JitRequestRecord

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01"
OFFICE = "203.0.113.10/32"
HOME = "198.51.100.7"


def record(
    minutes_ago: int,
    port: int,
    source: str,
    ends_in: int,
    status: str = "Initiated",
    reason: str = "UserRequested",
    *,
    requestor: str = "jitbot-identity",
    request_id: str | None = None,
) -> JitRequestRecord:
    justification = Justification(request_id, "U1", "U2", attempt="a1b2c3d4e5f6").render() if request_id else ""
    return JitRequestRecord(
        vm_id=VM,
        start=NOW - timedelta(minutes=minutes_ago),
        requestor=requestor,
        justification=justification,
        ports=(GrantedPort(port, source, NOW + timedelta(minutes=ends_in), status, reason),),
        request_id=request_id,
        attempt="a1b2c3d4e5f6" if request_id else None,
    )


def test_one_open_entry_is_one_holder() -> None:
    opened = open_ports([record(5, 22, OFFICE, 55, request_id="jr-a")], NOW)
    assert list(opened) == [22]
    assert opened[22].source == OFFICE
    assert opened[22].end == NOW + timedelta(minutes=55)
    assert [h.request_id for h in opened[22].holds] == ["jr-a"]
    assert opened[22].current.attempt == "a1b2c3d4e5f6"


def test_a_same_source_successor_keeps_the_earlier_holder_entitled() -> None:
    opened = open_ports(
        [
            record(30, 22, OFFICE, 90, "Revoked", "NewerRequestInitiated", request_id="jr-alice"),
            record(5, 22, "203.0.113.10", 90, request_id="jr-bob"),
        ],
        NOW,
    )
    assert [h.request_id for h in opened[22].holds] == ["jr-alice", "jr-bob"]


def test_a_different_source_successor_takes_the_port_from_everyone_before_it() -> None:
    opened = open_ports(
        [
            record(30, 22, OFFICE, 90, "Revoked", "NewerRequestInitiated", request_id="jr-alice"),
            record(20, 22, OFFICE, 60, "Revoked", "NewerRequestInitiated", request_id="jr-bob"),
            record(5, 22, HOME, 30, requestor="carol@contoso.com"),
        ],
        NOW,
    )
    assert opened[22].source == HOME
    assert [h.requestor for h in opened[22].holds] == ["carol@contoso.com"]


def test_holders_whose_own_end_passed_are_dropped_but_the_window_stays() -> None:
    opened = open_ports(
        [
            record(90, 22, OFFICE, -5, "Revoked", "NewerRequestInitiated", request_id="jr-early"),
            record(60, 22, OFFICE, 60, request_id="jr-late"),
        ],
        NOW,
    )
    assert [h.request_id for h in opened[22].holds] == ["jr-late"]


def test_closed_or_past_windows_are_not_open() -> None:
    assert open_ports([record(90, 22, OFFICE, -1)], NOW) == {}
    assert open_ports([record(30, 22, OFFICE, 30, "Revoked", "Expired")], NOW) == {}


def test_ports_are_independent() -> None:
    opened = open_ports(
        [record(30, 22, OFFICE, 60, request_id="jr-a"), record(5, 3389, HOME, 30, request_id="jr-b")], NOW
    )
    assert {n: o.source for n, o in opened.items()} == {22: OFFICE, 3389: HOME}


def test_history_order_does_not_matter() -> None:
    newest_first = [
        record(5, 22, HOME, 30, requestor="carol"),
        record(30, 22, OFFICE, 60, "Revoked", "NewerRequestInitiated"),
    ]
    assert [h.requestor for h in open_ports(newest_first, NOW)[22].holds] == ["carol"]


def test_same_network_compares_addresses_not_spelling() -> None:
    assert same_network("10.0.0.1", "10.0.0.1/32")
    assert same_network("2001:db8::1", "2001:DB8::1/128")
    assert not same_network("10.0.0.1", "10.0.0.2")
    assert same_network("Internet", "internet")
    assert not same_network("10.0.0.0/24", "10.0.0.0/16")
