"""How far an extension may move a grant's end (``jit.extension_window``): the current end plus what was asked,
never past the tightest maximum counted from now, and refused when that leaves less than ``MIN_GAIN``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jit.errors import RequestRejected
from jit.extension_window import MIN_GAIN, ExtensionWindow
from jit.hints import Command, CommandHint
from jit.model import AccessRequest, PolicyPort
from tests.jit.doubles.world import MAX_ACCESS, VM_REF, World, rule, settings


def window(world: World) -> ExtensionWindow:
    return ExtensionWindow(world.deps())


async def new_end(world: World, grant: AccessRequest, wanted: timedelta) -> object:
    extension = window(world)
    return await extension.new_end(grant, await extension.route(grant), wanted)


async def test_the_end_moves_by_what_was_asked_within_the_maximum(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    assert grant.ends_at is not None

    assert await new_end(world, grant, timedelta(minutes=30)) == grant.ends_at + timedelta(minutes=30)


async def test_the_policys_maximum_counted_from_now_caps_the_end(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=2))
    world.clock.advance(timedelta(minutes=30))

    assert await new_end(world, grant, timedelta(hours=2)) == world.clock.now() + MAX_ACCESS


async def test_the_rules_and_jitbots_maximums_cap_it_too(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    world.router.rule = rule(max_duration=timedelta(minutes=90))
    by_rule = await new_end(world, grant, timedelta(hours=2))
    capped = World(config=settings(max_duration=timedelta(minutes=75)))
    other = await capped.active(duration=timedelta(hours=1))

    assert by_rule == world.clock.now() + timedelta(minutes=90)
    assert await new_end(capped, other, timedelta(hours=2)) == capped.clock.now() + timedelta(minutes=75)


async def test_an_extension_never_ends_access_earlier(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=2))
    world.azure.set_policy(VM_REF, [PolicyPort(22, max_duration=timedelta(hours=1))])

    with pytest.raises(RequestRejected, match="cannot be extended now") as refused:
        await new_end(world, grant, timedelta(hours=1))

    assert refused.value.hint == CommandHint(Command.STATUS, (grant.id,))


async def test_less_than_the_minimum_gain_is_refused_and_just_over_it_is_allowed(world: World) -> None:
    grant = await world.active(duration=MAX_ACCESS - MIN_GAIN)

    with pytest.raises(RequestRejected):
        await new_end(world, grant, timedelta(hours=1))
    world.clock.advance(timedelta(seconds=1))
    assert await new_end(world, grant, timedelta(hours=1)) == world.clock.now() + MAX_ACCESS


async def test_an_extension_of_a_vm_without_jit_is_refused(world: World) -> None:
    grant = await world.active()
    world.azure.remove_policy(VM_REF)

    with pytest.raises(RequestRejected, match="no longer configured"):
        await new_end(world, grant, timedelta(hours=1))


async def test_a_grant_that_holds_no_port_has_nothing_to_extend(world: World) -> None:
    grant = await world.active()
    await world.records.update_fields(grant.id, {"lost_ports": (22,)}, actor="t", event="e")

    with pytest.raises(RequestRejected, match="no longer holds any port"):
        await new_end(world, await world.current(grant.id), timedelta(hours=1))


async def test_a_port_the_policy_dropped_is_refused_without_suggesting_an_extension_that_would_fail(
    world: World,
) -> None:
    grant = await world.active()
    world.azure.set_policy(VM_REF, [PolicyPort(3389)])

    with pytest.raises(RequestRejected, match="Port 22 is not in the JIT policy") as refused:
        await new_end(world, grant, timedelta(hours=4))

    assert "no length of extension can pass" in refused.value.problem
    assert refused.value.hint == CommandHint(Command.STATUS, (grant.id,))
