"""Refusals and the request they suggest, case by case, on the in-memory world: each case lists what was asked,
what the refusal says and the suggested request — which is then asked for and must be accepted. Where nothing
would pass, the refusal says so and suggests nothing (``jit.suggesting``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from jit.errors import RequestRejected
from jit.hints import RequestHint
from jit.model import PolicyPort, VirtualMachine, VmRef
from jit.ports.azure_errors import VmNotFound
from jit.results import RequestDraft
from jit.routing import Route
from tests.jit.doubles.world import GLASS_GROUP, REQUESTER, VM_REF, World, rule

H = timedelta(hours=1)
ASKED_FROM = "203.0.113.7"
WIN_REF = VmRef(
    id="/subscriptions/sub-1/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/win-01",
    subscription_id="sub-1",
    resource_group="rg-app",
    name="win-01",
    location="westeurope",
)


@dataclass(frozen=True)
class Case:
    name: str
    asked: RequestHint
    says: str
    suggests: RequestHint | None
    rule: Route = field(default_factory=rule)


CASES = [
    Case(
        "a port outside the policy: the rest kept, within every remaining port's maximum",
        RequestHint((3389, 8080), "web-01", 90 * timedelta(minutes=1), ASKED_FROM, "INC-1234"),
        "Port 3389 is not in the JIT policy",
        RequestHint((8080,), "web-01", H, ASKED_FROM, "INC-1234"),
    ),
    Case(
        "break-glass on Windows: its port, the flag kept",
        RequestHint((22,), "win-01", H, None, "prod down", True),
        "Port 22 is not in the JIT policy",
        RequestHint((3389,), "win-01", H, None, "prod down", True),
        rule(break_glass=(GLASS_GROUP,)),
    ),
    Case(
        "a missing ticket goes in front of the reason",
        RequestHint((22,), "web-01", H, None, "checking logs"),
        "must mention a ticket",
        RequestHint((22,), "web-01", H, None, "CHG0012345 checking logs"),
        rule(ticket_pattern=r"CHG\d{7}"),
    ),
    Case(
        "a missing ticket and a duration past the maximum: both fixed",
        RequestHint((8080,), "web-01", 2 * H, None, "checking logs"),
        "must mention a ticket",
        RequestHint((8080,), "web-01", H, None, "INC-1234 checking logs"),
        rule(ticket_pattern=r"INC-\d+"),
    ),
    Case(
        "a source outside every port's prefixes: one they all allow",
        RequestHint((22, 8080), "web-01", H, "198.51.100.9", "deploy"),
        "is not allowed for port 8080",
        RequestHint((22, 8080), "web-01", H, "203.0.113.0/24", "deploy"),
    ),
    Case(
        "the rule's maximum is shorter than the policy's",
        RequestHint((22,), "web-01", 3 * H, None, "deploy"),
        "at most 2h",
        RequestHint((22,), "web-01", 2 * H, None, "deploy"),
        rule(max_duration=2 * H),
    ),
    Case(
        "a ticket no example matches: no suggestion, and it says what to add",
        RequestHint((22,), "web-01", H, None, "deploy"),
        "Add yours to the reason",
        None,
        rule(ticket_pattern=r"^ZZ[0-9]{3}Q$"),
    ),
]


def _world(route: Route) -> World:
    world = World()
    world.router.rule = route
    world.azure.set_policy(
        VM_REF,
        [
            PolicyPort(22, max_duration=3 * H, allowed_sources=("*",)),
            PolicyPort(8080, max_duration=H, allowed_sources=("203.0.113.0/24",)),
        ],
    )
    world.azure.add_vm(VirtualMachine(WIN_REF, os_type="Windows"), [PolicyPort(3389), PolicyPort(5985)])
    return world


def _draft(hint: RequestHint) -> RequestDraft:
    return RequestDraft(REQUESTER, hint.vm, hint.ports, hint.duration, hint.source, hint.reason, hint.break_glass)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_suggested_request_is_accepted(case: Case) -> None:
    world = _world(case.rule)

    with pytest.raises(RequestRejected) as refused:
        await world.service.submit(_draft(case.asked))

    assert case.says in refused.value.problem
    assert refused.value.hint == case.suggests
    if case.suggests is not None:
        accepted = await world.service.submit(_draft(case.suggests))
        assert accepted.created


async def test_a_name_that_matches_no_vm_suggests_the_one_meant_with_everything_else_kept() -> None:
    world = _world(rule())
    asked = RequestHint((22,), "web01", H, ASKED_FROM, "tailing logs")

    with pytest.raises(VmNotFound) as refused:
        await world.service.submit(_draft(asked))

    assert refused.value.nearest == ("web-01",)
    assert refused.value.hint == RequestHint((22,), "web-01", H, ASKED_FROM, "tailing logs")
    assert (await world.service.submit(_draft(refused.value.hint))).created


@pytest.mark.parametrize(("vm", "ports"), [("web-01", (22,)), ("win-01", (3389,))])
async def test_a_request_without_ports_gets_the_port_people_use_on_that_vm(vm: str, ports: tuple[int, ...]) -> None:
    world = _world(rule())

    found = await world.service.suggest(REQUESTER, RequestHint((), vm, H, None, "deploy"))

    assert found.hint == RequestHint(ports, vm, H, None, "deploy")
    assert found.hint is not None and (await world.service.submit(_draft(found.hint))).created


async def test_without_jit_there_is_no_suggestion_and_the_reason_is_given() -> None:
    world = _world(rule())
    world.azure.remove_policy(WIN_REF)

    found = await world.service.suggest(REQUESTER, RequestHint((), "win-01", H))

    assert found.hint is None and "not configured" in found.why_none
