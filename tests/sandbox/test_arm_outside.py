"""Other writers in the ARM emulator: people acting through the portal or the CLI, and writes that land between
someone else's read and write. Azure's JIT objects are shared, and the emulator shares them the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.arm import ArmEmulator
from sandbox.arm_demo import demo_inventory
from sandbox.arm_outside import OpenPort, PortalUser

CAROL = "carol@contoso.com"
ERIN = "erin@contoso.com"


@pytest.fixture
async def arm() -> AsyncIterator[ArmEmulator]:
    async with ArmEmulator(demo_inventory()) as emulator:
        yield emulator


def web01(arm: ArmEmulator) -> str:
    return arm.inventory.vm("web-01").id


def history_ports(arm: ArmEmulator, vm_id: str, number: int) -> list[dict[str, Any]]:
    policy = arm.inventory.policy_covering(arm.inventory.vm("web-01"))
    assert policy is not None
    found: list[dict[str, Any]] = []
    for request in policy.requests:
        for vm in request["virtualMachines"]:
            if vm["id"].lower() == vm_id.lower():
                found += [dict(p, requestor=request["requestor"]) for p in vm["ports"] if p["number"] == number]
    return found


async def test_a_person_initiating_is_recorded_as_the_requestor(arm: ArmEmulator) -> None:
    end = datetime.now(UTC) + timedelta(hours=1)
    async with PortalUser(arm, CAROL) as carol:
        answer = await carol.initiate(web01(arm), [OpenPort(22, "198.51.100.7", end)], "portal")
    assert answer["requestor"] == CAROL
    latest = history_ports(arm, web01(arm), 22)[-1]
    assert latest["requestor"] == CAROL
    assert latest["status"] == "Initiated"
    assert latest["allowedSourceAddressPrefix"] == "198.51.100.7"


async def test_a_newer_initiate_supersedes_the_open_port_even_when_it_ends_sooner(arm: ArmEmulator) -> None:
    now = datetime.now(UTC)
    async with PortalUser(arm, CAROL) as carol, PortalUser(arm, ERIN) as erin:
        await carol.initiate(web01(arm), [OpenPort(22, "198.51.100.7", now + timedelta(hours=3))])
        await erin.initiate(web01(arm), [OpenPort(22, "198.51.100.7", now + timedelta(minutes=30))])
    first, second = history_ports(arm, web01(arm), 22)[-2:]
    assert (first["requestor"], first["status"], first["statusReason"]) == (CAROL, "Revoked", "NewerRequestInitiated")
    assert (second["requestor"], second["status"]) == (ERIN, "Initiated")
    nsg = arm.inventory.nsg(arm.inventory.vm("web-01").subscription_id, "rg-web", "web-nsg")
    assert nsg is not None
    allows = [
        r for r in nsg.rules if r["properties"]["access"] == "Allow" and r["properties"]["destinationPortRange"] == "22"
    ]
    assert len(allows) == 1, "one allow rule per VM port: the newer initiate replaced the older one"


async def test_an_interleaved_writer_acts_between_jitbots_read_and_its_next_write(arm: ArmEmulator) -> None:
    policy = arm.inventory.policy_covering(arm.inventory.vm("web-01"))
    assert policy is not None
    web02 = arm.inventory.vm("web-02").id
    async with (
        PortalUser(arm, arm.identity_name) as jitbot,
        PortalUser(arm, CAROL) as carol,
        PortalUser(arm, ERIN) as erin,
    ):

        async def erin_removes_web02() -> None:
            current = await erin.get_policy(policy.id)
            entries = [e for e in current["properties"]["virtualMachines"] if e["id"].lower() != web02.lower()]
            await erin.put_policy(policy.id, entries)

        arm.interleave("jit.get", erin_removes_web02)
        await carol.get_policy(policy.id)
        assert any(e["id"].lower() == web02.lower() for e in policy.virtual_machines), "only jitbot's calls trigger it"

        seen = await jitbot.get_policy(policy.id)
        assert any(e["id"].lower() == web02.lower() for e in seen["properties"]["virtualMachines"])
        now_there = await jitbot.get_policy(policy.id)
    assert not any(e["id"].lower() == web02.lower() for e in now_there["properties"]["virtualMachines"])
