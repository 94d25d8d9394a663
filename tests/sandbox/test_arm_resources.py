"""Compute, network, classic, pricing and locations through the real SDK clients: shapes, paging, rule delete."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.identity.aio import ManagedIdentityCredential

from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, VirtualMachine
from sandbox.arm_schema import PRICING_SWAGGER, problems
from tests.sandbox.arm_support import (  # noqa: F401
    FREE_SUB,
    LOCATION,
    PRICING_EXAMPLES,
    RG,
    SPECS,
    SUB,
    arm_fixture,
    clock_fixture,
    compute,
    credential_fixture,
    example,
    network,
    raw,
    security,
    token_for,
    world_fixture,
)

CLASSIC = f"/subscriptions/{SUB}/providers/Microsoft.ClassicCompute/virtualMachines?api-version=2017-04-01"


def pricing_path(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/VirtualMachines"


async def test_vm_get_has_the_fields_jitbot_reads(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    async with compute(arm, credential) as client:
        vm = await client.virtual_machines.get(RG, "vm2")
    assert vm.id == arm.inventory.vm("vm2").id
    assert (vm.location, vm.tags) == (LOCATION, {"env": "prod"})
    assert vm.storage_profile.os_disk.os_type == "Windows"
    assert [n.id for n in vm.network_profile.network_interfaces] == [
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkInterfaces/vm2-nic"
    ]
    assert vm.provisioning_state == "Succeeded"


async def test_classic_vms_are_not_arm_vms(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    async with compute(arm, credential) as client:
        names = [vm.name async for vm in client.virtual_machines.list_all()]
        by_group = [vm.name async for vm in client.virtual_machines.list(RG)]
        with pytest.raises(HttpResponseError) as caught:
            await client.virtual_machines.get(RG, "classic1")
    assert names == ["vm1", "vm2", "vm3", "bare", "east1"]
    assert by_group == ["vm1", "vm2", "vm3", "bare"]
    assert caught.value.status_code == 404
    assert caught.value.error.code == "ResourceNotFound"


async def test_classic_vms_are_listed_through_send_request(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    world.vms += [VirtualMachine(SUB, RG, f"classic{n}", LOCATION, classic=True) for n in range(2, 5)]
    arm.page_size = 2
    listed: list[dict[str, Any]] = []
    async with compute(arm, credential) as client:
        url: str | None = CLASSIC
        while url:
            response = await client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            page = response.json()
            listed += page["value"]
            url = page.get("nextLink")
    assert [vm["name"] for vm in listed] == ["classic1", "classic2", "classic3", "classic4"]
    assert {vm["type"] for vm in listed} == {"Microsoft.ClassicCompute/virtualMachines"}
    assert listed[0]["properties"]["storageProfile"]["operatingSystemDisk"]["operatingSystem"] == "Windows"
    assert [c.operation for c in arm.reads() if c.operation == "classic.vm.list"] == ["classic.vm.list"] * 2


async def test_vm_listing_pages_with_next_link(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    world.vms += [VirtualMachine(SUB, "rg-many", f"many-{n:02d}", LOCATION) for n in range(9)]
    arm.page_size = 2
    async with compute(arm, credential) as client:
        names = [vm.name async for vm in client.virtual_machines.list("rg-many")]
    assert names == [f"many-{n:02d}" for n in range(9)]
    pages = [c for c in arm.reads() if c.operation == "compute.vm.list"]
    assert len(pages) == 5
    assert [c.query.get("$skiptoken") for c in pages] == [None, "2", "4", "6", "8"]


async def test_nic_carries_ip_subnet_public_ip_and_nsg(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    prefix = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"
    async with network(arm, credential) as client:
        nic = await client.network_interfaces.get(RG, "vm1-nic")
        plain = await client.network_interfaces.get(RG, "vm3-nic")
        subnet = await client.subnets.get(RG, f"{RG}-vnet", plain.ip_configurations[0].subnet.id.rsplit("/", 1)[-1])
        default_subnet = await client.subnets.get(RG, f"{RG}-vnet", "default")
        public_ip = await client.public_ip_addresses.get(RG, "vm1-ip")
    [config] = nic.ip_configurations
    assert config.private_ip_address == "10.0.0.4"
    assert config.public_ip_address.id == f"{prefix}/publicIPAddresses/vm1-ip"
    assert config.subnet.id == f"{prefix}/virtualNetworks/{RG}-vnet/subnets/default"
    assert nic.network_security_group.id == f"{prefix}/networkSecurityGroups/nsg1"
    assert nic.virtual_machine.id == arm.inventory.vm("vm1").id
    assert plain.network_security_group is None
    assert plain.ip_configurations[0].public_ip_address is None
    assert subnet.network_security_group.id == f"{prefix}/networkSecurityGroups/subnet-nsg"
    assert default_subnet.network_security_group is None
    assert public_ip.ip_address == "20.0.0.4"
    assert public_ip.ip_configuration.id == f"{config.id}"


async def test_subscription_wide_network_lists(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    arm.page_size = 2
    async with network(arm, credential) as client:
        nics = [n.name async for n in client.network_interfaces.list_all()]
        nsgs = {n.name: n async for n in client.network_security_groups.list_all()}
        vnets = [v async for v in client.virtual_networks.list_all()]
        ips = [p.ip_address async for p in client.public_ip_addresses.list_all()]
    assert nics == ["vm1-nic", "vm2-nic", "vm3-nic", "bare-nic", "east1-nic"]
    assert sorted(nsgs) == ["nsg-east", "nsg1", "subnet-nsg"]
    assert [n.id.rsplit("/", 1)[-1] for n in nsgs["nsg1"].network_interfaces] == ["vm1-nic", "vm2-nic"]
    assert [r.name for r in nsgs["nsg1"].default_security_rules][-1] == "DenyAllOutBound"
    assert [v.name for v in vnets] == [f"{RG}-vnet", "rg-east-vnet"]
    subnets = {s.name: s for s in vnets[0].subnets}
    assert sorted(subnets) == ["default", "snet-subnet-nsg"]
    assert subnets["snet-subnet-nsg"].network_security_group.id.endswith("/subnet-nsg")
    assert subnets["default"].network_security_group is None
    assert ips == ["20.0.0.4"]


async def test_nsg_rule_get_and_begin_delete(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    nsg = world.nsg(SUB, RG, "nsg1")
    assert nsg is not None
    nsg.rules.append(
        {
            "name": "SecurityCenter-JITRule-1-ABC",
            "properties": {
                "protocol": "*",
                "sourcePortRange": "*",
                "destinationPortRange": "22",
                "sourceAddressPrefix": "203.0.113.5",
                "destinationAddressPrefix": "10.0.0.4",
                "access": "Allow",
                "priority": 100,
                "direction": "Inbound",
            },
        }
    )
    async with network(arm, credential) as client:
        rule = await client.security_rules.get(RG, "nsg1", "SecurityCenter-JITRule-1-ABC")
        poller = await client.security_rules.begin_delete(RG, "nsg1", rule.name)
        await poller.result()
        again = await client.security_rules.begin_delete(RG, "nsg1", rule.name)
        await again.result()
        with pytest.raises(HttpResponseError) as caught:
            await client.security_rules.get(RG, "nsg1", rule.name)
    assert (rule.access, rule.priority, rule.source_address_prefix) == ("Allow", 100, "203.0.113.5")
    assert nsg.rules == []
    assert caught.value.status_code == 404
    deletes = [(c.operation, c.status) for c in arm.calls if c.operation.startswith("network.") and c.method != "GET"]
    assert deletes == [("network.nsg.rule.delete", 202), ("network.nsg.rule.delete", 204)]
    assert ("network.operation.get", 200) in [(c.operation, c.status) for c in arm.reads()]
    assert [c.operation for c in arm.writes()] == ["network.nsg.rule.delete", "network.nsg.rule.delete"]


async def test_pricing_follows_defender_for_servers_per_subscription(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    token = await token_for(credential)
    answers = {}
    for sub in (SUB, FREE_SUB):
        async with security(arm, credential, sub=sub) as client:
            answers[sub] = await client.pricings.get(f"subscriptions/{sub}", "VirtualMachines")
        _, body, _ = await raw(arm, "GET", pricing_path(sub), token=token, api_version="2024-01-01")
        assert problems(PRICING_SWAGGER, "Pricing", body) == []
    assert answers[SUB].pricing_tier == "Standard"
    assert answers[SUB].sub_plan == "P2"
    assert answers[FREE_SUB].pricing_tier == "Free"
    shape = example(PRICING_EXAMPLES / "GetPricingByNameVirtualMachines_example.json")["responses"]["200"]["body"]
    _, ours, _ = await raw(arm, "GET", pricing_path(SUB), token=token, api_version="2024-01-01")
    assert set(ours) == set(shape)
    assert set(shape["properties"]) - set(ours["properties"]) == set()


async def test_pricing_list_with_a_name_filter(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    async with security(arm, credential) as client:
        everything = await client.pricings.list(f"subscriptions/{SUB}")
        some = await client.pricings.list(f"subscriptions/{SUB}", filter="name in (VirtualMachines,KeyVaults)")
    assert len(everything.value) > 2
    assert [(p.name, p.pricing_tier) for p in some.value] == [("VirtualMachines", "Standard"), ("KeyVaults", "Free")]
    listed = example(PRICING_EXAMPLES / "ListPricingsWithPlanFilter_example.json")["responses"]["200"]["body"]
    assert problems(PRICING_SWAGGER, "PricingList", listed) == []


async def test_security_locations_match_the_recorded_shape(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    recording = yaml.safe_load((SPECS / "recordings/azure-cli/test_security_locations.yaml").read_text())
    recorded = json.loads(recording["interactions"][0]["response"]["body"]["string"])["value"][0]
    async with security(arm, credential) as client:
        [location] = [loc async for loc in client.locations.list()]
        same = await client.locations.get(location.name)
    _, body, _ = await raw(
        arm,
        "GET",
        f"/subscriptions/{SUB}/providers/Microsoft.Security/locations",
        token=await token_for(credential),
        api_version="2015-06-01-preview",
    )
    [ours] = body["value"]
    assert set(ours) == set(recorded)
    assert set(ours["properties"]) == set(recorded["properties"])
    assert location.name == same.name == LOCATION
    assert location.properties == {"homeRegionName": LOCATION}
