"""JIT policies through the real azure-mgmt-security client: the official examples, validation, initiate, expiry."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.security.aio import SecurityCenter

from jit.clock import ManualClock
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory
from sandbox.arm_jit import parse_time
from sandbox.arm_schema import JIT_SWAGGER, problems
from tests.sandbox.arm_support import (  # noqa: F401
    JIT_EXAMPLES,
    LOCATION,
    PREVIEW_JIT_EXAMPLES,
    RG,
    SUB,
    add_policy,
    arm_fixture,
    clock_fixture,
    credential_fixture,
    example,
    policy_body,
    port,
    raw,
    rules,
    security,
    token_for,
    vm_entry,
    world_fixture,
)

INVALID = "InvalidRequestContent"
POLICY_PATH = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Security/locations/{LOCATION}"
    "/jitNetworkAccessPolicies/default"
)


def as_stream(body: Any) -> io.BytesIO:
    """Send a body byte for byte, bypassing the SDK's model serialisation."""
    return io.BytesIO(json.dumps(body).encode())


async def put(client: SecurityCenter, body: Any, name: str = "default") -> Any:
    return await client.jit_network_access_policies.create_or_update(RG, LOCATION, name, as_stream(body))


async def initiate(client: SecurityCenter, body: Any, name: str = "default") -> Any:
    return await client.jit_network_access_policies.initiate(RG, LOCATION, name, as_stream(body))


def initiate_body(vm_id: str, number: int, end: datetime, source: str | None = "203.0.113.5") -> dict[str, Any]:
    port_request: dict[str, Any] = {"number": number, "endTimeUtc": end.isoformat()}
    if source is not None:
        port_request["allowedSourceAddressPrefix"] = source
    return {"virtualMachines": [{"id": vm_id, "ports": [port_request]}], "justification": "jitbot request r-1"}


def one_port(rule: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"virtualMachines": [{"id": "x", "ports": [rule]}]}}


def allow_rules(world: Inventory, nsg: str = "nsg1") -> list[dict[str, Any]]:
    return [r for r in rules(world, nsg) if r["properties"]["access"] == "Allow"]


def deny_rules(world: Inventory, nsg: str = "nsg1") -> list[dict[str, Any]]:
    return [r for r in rules(world, nsg) if r["properties"]["access"] == "Deny"]


# --- the official examples ----------------------------------------------------------------------------------


async def test_create_example_round_trips(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    create = example(JIT_EXAMPLES / "CreateJitNetworkAccessPolicy_example.json")
    async with security(arm, credential) as client:
        answered = await put(client, create["parameters"]["body"])
        fetched = await client.jit_network_access_policies.get(RG, LOCATION, "default")
    assert answered.provisioning_state == "Succeeded"
    assert fetched.virtual_machines[0].ports[1].number == 3389
    status, body, _ = await raw(arm, "GET", POLICY_PATH, token=await token_for(credential))
    assert status == 200
    assert body == create["responses"]["200"]["body"]
    assert [c.operation for c in arm.writes()] == ["jit.put"]


async def test_get_and_list_examples_match_the_swagger_and_the_emulator(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    get = example(JIT_EXAMPLES / "GetJitNetworkAccessPolicy_example.json")["responses"]["200"]["body"]
    lists = [
        example(JIT_EXAMPLES / name)["responses"]["200"]["body"]
        for name in (
            "GetJitNetworkAccessPoliciesSubscription_example.json",
            "GetJitNetworkAccessPoliciesResourceGroupLocation_example.json",
        )
    ] + [
        example(PREVIEW_JIT_EXAMPLES / name)["responses"]["200"]["body"]
        for name in (
            "GetJitNetworkAccessPoliciesResourceGroup_example.json",
            "GetJitNetworkAccessPoliciesSubscriptionLocation_example.json",
        )
    ]
    assert problems(JIT_SWAGGER, "JitNetworkAccessPolicy", get) == []
    assert all(problems(JIT_SWAGGER, "JitNetworkAccessPoliciesList", body) == [] for body in lists)
    async with security(arm, credential) as client:
        await put(client, {"kind": "Basic", "properties": get["properties"]})
    token = await token_for(credential)
    _, ours, _ = await raw(arm, "GET", POLICY_PATH, token=token)
    assert ours == get
    _, listed, _ = await raw(
        arm, "GET", f"/subscriptions/{SUB}/providers/Microsoft.Security/jitNetworkAccessPolicies", token=token
    )
    assert problems(JIT_SWAGGER, "JitNetworkAccessPoliciesList", listed) == []
    assert listed == lists[0]


async def test_initiate_example_is_accepted_at_its_own_time(
    arm: ArmEmulator, credential: ManagedIdentityCredential, clock: ManualClock, world: Inventory
) -> None:
    create = example(JIT_EXAMPLES / "CreateJitNetworkAccessPolicy_example.json")["parameters"]["body"]
    start = example(JIT_EXAMPLES / "InitiateJitNetworkAccessPolicy_example.json")
    clock.current = datetime(2018, 7, 12, 8, 53, 3, 365879, tzinfo=UTC)
    async with security(arm, credential) as client:
        await put(client, create)
        answer = await initiate(client, start["parameters"]["body"])
    expected = start["responses"]["202"]["body"]
    assert answer.requestor == arm.identity_name
    assert answer.justification == expected["justification"]
    assert answer.start_time_utc == parse_time(expected["startTimeUtc"]).replace(microsecond=365879)
    [vm] = answer.virtual_machines
    assert vm.id == start["parameters"]["body"]["virtualMachines"][0]["id"]
    [opened] = vm.ports
    assert (opened.number, opened.allowed_source_address_prefix, opened.status, opened.status_reason) == (
        3389,
        "192.127.0.2",
        "Initiating",
        "UserRequested",
    )
    assert [c.status for c in arm.calls if c.operation == "jit.initiate"] == [202]
    history = world.policies[0].requests[-1]
    assert history["virtualMachines"][0]["ports"][0]["status"] == "Initiated"
    assert problems(JIT_SWAGGER, "JitNetworkAccessRequest", history) == []


async def test_delete_example_answers_200_then_204(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    create = example(JIT_EXAMPLES / "CreateJitNetworkAccessPolicy_example.json")["parameters"]["body"]
    async with security(arm, credential) as client:
        await put(client, create)
        await client.jit_network_access_policies.delete(RG, LOCATION, "default")
        await client.jit_network_access_policies.delete(RG, LOCATION, "default")
        with pytest.raises(HttpResponseError) as caught:
            await client.jit_network_access_policies.get(RG, LOCATION, "default")
    assert caught.value.status_code == 404
    assert [c.status for c in arm.calls if c.operation == "jit.delete"] == [200, 204]
    assert deny_rules(arm.inventory) == []


# --- PUT validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Basic"},
        {"properties": {"virtualMachines": "vm1"}},
        one_port({"number": 70000, "protocol": "*", "maxRequestAccessDuration": "PT1H"}),
        one_port({"number": 22, "maxRequestAccessDuration": "PT1H"}),
        one_port({"number": 22, "protocol": "ICMP", "maxRequestAccessDuration": "PT1H"}),
        one_port({"number": "22", "protocol": "TCP", "maxRequestAccessDuration": "PT1H"}),
        {"properties": {"virtualMachines": [{"ports": []}]}},
    ],
)  # fmt: skip
async def test_schema_invalid_policies_are_refused(
    arm: ArmEmulator, credential: ManagedIdentityCredential, body: dict[str, Any]
) -> None:
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError) as caught:
            await put(client, body)
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidRequestContent"
    assert arm.inventory.policies == []


@pytest.mark.parametrize(
    ("vm_name", "ports", "code", "words"),
    [
        ("classic1", [port(3389)], "UnsupportedVirtualMachine", "classic"),
        ("bare", [port(22)], "UnsupportedVirtualMachine", "network security group"),
        ("east1", [port(22)], "LocationMismatch", "eastus"),
        ("vm1", [port(22, "PT4M")], "InvalidRequestContent", "between 5 minutes and 1 day"),
        ("vm1", [port(22, "P2D")], "InvalidRequestContent", "between 5 minutes and 1 day"),
        ("vm1", [port(22, "3 hours")], "InvalidRequestContent", "ISO 8601"),
        ("vm1", [port(22), port(22)], "InvalidRequestContent", "twice"),
        ("vm1", [port(22, source="10.0.0.300")], "InvalidRequestContent", "10.0.0.300"),
        ("vm1", [{"number": 22, "protocol": "*", "maxRequestAccessDuration": "PT1H"}], INVALID, "exactly one"),
    ],
)  # fmt: skip
async def test_unsupported_vms_and_bad_ports_are_refused(
    arm: ArmEmulator,
    credential: ManagedIdentityCredential,
    world: Inventory,
    vm_name: str,
    ports: list[dict[str, Any]],
    code: str,
    words: str,
) -> None:
    vm = world.vm(vm_name)
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError) as caught:
            await put(client, policy_body(vm_entry(vm, *ports)))
    assert caught.value.status_code == 400
    assert caught.value.error.code == code
    assert words in caught.value.error.message
    assert world.policies == []


async def test_subscription_without_defender_for_servers_is_refused(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    free = world.vm("free1")
    async with security(arm, credential, sub=free.subscription_id) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.jit_network_access_policies.create_or_update(
                "rg-free", LOCATION, "default", as_stream(policy_body(vm_entry(free, port(22))))
            )
    assert caught.value.status_code == 400
    assert "Defender for Servers" in caught.value.error.message


@pytest.mark.parametrize(("name", "accepted"), [("p" * 53, True), ("p" * 54, False)])
async def test_policy_and_vm_name_share_56_characters(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, name: str, accepted: bool
) -> None:
    async with security(arm, credential) as client:
        if accepted:
            await put(client, policy_body(vm_entry(world.vm("vm1"), port(22))), name=name)
        else:
            with pytest.raises(HttpResponseError) as caught:
                await put(client, policy_body(vm_entry(world.vm("vm1"), port(22))), name=name)
            assert caught.value.error.code == "InvalidJitPolicyName"
            assert "56" in caught.value.error.message
    assert len(world.policies) == (1 if accepted else 0)


async def test_put_replaces_the_vm_list_and_keeps_deny_rules_in_step(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    vm1, vm2, vm3 = world.vm("vm1"), world.vm("vm2"), world.vm("vm3")
    async with security(arm, credential) as client:
        await put(client, policy_body(vm_entry(vm1, port(22), port(8080, "PT1H")), vm_entry(vm2, port(3389))))
        first = sorted(
            (r["properties"]["destinationAddressPrefix"], r["properties"]["destinationPortRange"])
            for r in deny_rules(world)
        )
        await put(client, policy_body(vm_entry(vm1, port(22)), vm_entry(vm3, port(22))))
        policy = await client.jit_network_access_policies.get(RG, LOCATION, "default")
    assert first == [("10.0.0.4", "22"), ("10.0.0.4", "8080"), ("10.0.0.5", "3389")]
    assert [v.id for v in policy.virtual_machines] == [vm1.id, vm3.id]
    assert [(r["properties"]["destinationPortRange"], r["properties"]["priority"]) for r in deny_rules(world)] == [
        ("22", 4096)
    ]
    [subnet_deny] = deny_rules(world, "subnet-nsg")
    assert subnet_deny["name"].startswith("SecurityCenter-JITRule_")
    assert subnet_deny["properties"]["description"] == "ASC JIT Network Access rule for policy 'default' of VM 'vm3'."
    assert (
        subnet_deny["properties"]["sourceAddressPrefix"],
        subnet_deny["properties"]["destinationAddressPrefix"],
    ) == ("*", "10.0.1.4")


async def test_put_without_requests_keeps_the_history(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, clock: ManualClock
) -> None:
    vm1 = world.vm("vm1")
    async with security(arm, credential) as client:
        await put(client, policy_body(vm_entry(vm1, port(22))))
        await initiate(client, initiate_body(vm1.id, 22, clock.now() + timedelta(hours=1)))
        await put(client, policy_body(vm_entry(vm1, port(22), port(3389))))
        policy = await client.jit_network_access_policies.get(RG, LOCATION, "default")
    assert len(policy.requests) == 1
    assert policy.requests[0].justification == "jitbot request r-1"


# --- listing ---------------------------------------------------------------------------------------------


async def test_the_four_list_scopes_filter_and_page(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    vm1, east = world.vm("vm1"), world.vm("east1")
    async with security(arm, credential) as client:
        for name in ("default", "second", "third"):
            await put(client, policy_body(vm_entry(vm1, port(22))), name=name)
        await client.jit_network_access_policies.create_or_update(
            "rg-east", "eastus", "default", as_stream(policy_body(vm_entry(east, port(22))))
        )
        arm.page_size = 2
        arm.reset_calls()
        policies = client.jit_network_access_policies
        everything = [p.id async for p in policies.list()]
        in_west = [p.name async for p in policies.list_by_region(LOCATION)]
        in_rg = [p.name async for p in policies.list_by_resource_group("rg-east")]
        in_rg_west = [p.name async for p in policies.list_by_resource_group_and_region(RG, LOCATION)]
    assert len(everything) == 4
    assert in_west == in_rg_west == ["default", "second", "third"]
    assert in_rg == ["default"]
    assert [c.operation for c in arm.reads()] == [
        "jit.list_subscription",
        "jit.list_subscription",
        "jit.list_location",
        "jit.list_location",
        "jit.list_resource_group",
        "jit.list_resource_group_location",
        "jit.list_resource_group_location",
    ]
    assert all(c.query["api-version"] == "2020-01-01" for c in arm.reads())


# --- initiate -------------------------------------------------------------------------------------------


@pytest.fixture(name="configured")
async def configured_fixture(arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory) -> None:
    """vm1 with SSH open to anyone for up to 3 h, RDP from 10.0.0.0/8 or 192.168.1.10 for up to 1 h."""
    async with security(arm, credential) as client:
        await put(
            client,
            policy_body(
                vm_entry(world.vm("vm1"), port(22), port(3389, "PT1H", ["10.0.0.0/8", "192.168.1.10"])),
                vm_entry(world.vm("vm3"), port(22, "PT30M", "198.51.100.0/24")),
            ),
        )
    arm.reset_calls()


@pytest.mark.parametrize(
    ("vm_name", "number", "minutes", "source", "reason"),
    [
        ("vm2", 22, 60, "203.0.113.5", "not in policy"),
        ("vm1", 80, 60, "203.0.113.5", "port 80 is not in the policy"),
        ("vm1", 22, 3 * 60 + 2, "203.0.113.5", "longer than the maximum PT3H"),
        ("vm1", 3389, 62, "10.1.2.3", "longer than the maximum PT1H"),
        ("vm1", 22, -1, "203.0.113.5", "in the past"),
        ("vm1", 3389, 30, "203.0.113.5", "not within the allowed 10.0.0.0/8, 192.168.1.10"),
        ("vm1", 3389, 30, "10.0.0.0/7", "not within the allowed"),
        ("vm1", 3389, 30, "*", "not within the allowed"),
        ("vm1", 3389, 30, "192.168.1.11", "not within the allowed"),
        ("vm3", 22, 20, "198.51.101.1", "not within the allowed 198.51.100.0/24"),
    ],
)
async def test_initiate_outside_the_policy_is_not_a_subset(
    arm: ArmEmulator,
    credential: ManagedIdentityCredential,
    world: Inventory,
    clock: ManualClock,
    configured: None,
    vm_name: str,
    number: int,
    minutes: int,
    source: str,
    reason: str,
) -> None:
    before = rules(world), rules(world, "subnet-nsg")
    snapshot = [list(r) for r in before]
    body = initiate_body(world.vm(vm_name).id, number, clock.now() + timedelta(minutes=minutes), source)
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError) as caught:
            await initiate(client, body)
    assert caught.value.status_code == 400
    assert "is not a subset of policy 'default'" in caught.value.error.message
    assert reason in caught.value.error.message
    assert world.policies[0].requests == []
    assert [list(r) for r in before] == snapshot


@pytest.mark.parametrize(
    ("vm_name", "number", "minutes", "source"),
    [
        ("vm1", 22, 180, "*"),
        ("vm1", 22, 180 + 0.5, "203.0.113.5"),
        ("vm1", 3389, 60, "10.20.30.0/24"),
        ("vm1", 3389, 5, "192.168.1.10"),
        ("vm1", 3389, 5, "192.168.1.10/32"),
        ("vm3", 22, 30, "198.51.100.77"),
    ],
)
async def test_initiate_within_the_policy_is_accepted(
    arm: ArmEmulator,
    credential: ManagedIdentityCredential,
    world: Inventory,
    clock: ManualClock,
    configured: None,
    vm_name: str,
    number: int,
    minutes: float,
    source: str,
) -> None:
    body = initiate_body(world.vm(vm_name).id, number, clock.now() + timedelta(minutes=minutes), source)
    async with security(arm, credential) as client:
        answer = await initiate(client, body)
    assert answer.virtual_machines[0].ports[0].status == "Initiating"
    assert [c.operation for c in arm.writes()] == ["jit.initiate"]


async def test_initiate_without_a_source_opens_to_the_caller(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, clock: ManualClock, configured: None
) -> None:
    body = initiate_body(world.vm("vm1").id, 22, clock.now() + timedelta(hours=1), source=None)
    async with security(arm, credential) as client:
        answer = await initiate(client, body)
    assert answer.virtual_machines[0].ports[0].allowed_source_address_prefix == "127.0.0.1"


async def test_schema_invalid_initiate_is_refused(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, configured: None
) -> None:
    body = {"virtualMachines": [{"id": world.vm("vm1").id, "ports": [{"number": 22}]}]}
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError) as caught:
            await initiate(client, body)
    assert caught.value.status_code == 400
    assert "endTimeUtc" in caught.value.error.message


async def test_initiate_on_a_missing_policy_is_404(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    async with security(arm, credential) as client:
        with pytest.raises(HttpResponseError) as caught:
            await initiate(client, initiate_body(arm.inventory.vm("vm1").id, 22, datetime(2027, 1, 1, tzinfo=UTC)))
    assert caught.value.status_code == 404


async def test_allow_rules_open_on_initiate_and_close_when_the_window_ends(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, clock: ManualClock, configured: None
) -> None:
    vm1 = world.vm("vm1")
    end = clock.now() + timedelta(minutes=45)
    async with security(arm, credential) as client:
        await initiate(client, initiate_body(vm1.id, 3389, end, "10.1.0.0/16"))
        [allow] = allow_rules(world)
        assert allow["name"].startswith("SecurityCenter-JITRule-")
        assert allow["properties"] | {"description": ""} == {
            "description": "",
            "protocol": "*",
            "sourcePortRange": "*",
            "destinationPortRange": "3389",
            "sourceAddressPrefix": "10.1.0.0/16",
            "destinationAddressPrefix": "10.0.0.4",
            "access": "Allow",
            "priority": 100,
            "direction": "Inbound",
        }
        assert "initiation request for policy 'default' of VM 'vm1'" in allow["properties"]["description"]
        clock.advance(timedelta(minutes=44))
        assert arm.expire_windows() == 0
        assert len(allow_rules(world)) == 1
        clock.advance(timedelta(minutes=1))
        assert arm.expire_windows() == 1
        policy = await client.jit_network_access_policies.get(RG, LOCATION, "default")
    assert allow_rules(world) == []
    assert len(deny_rules(world)) == 2
    [request] = policy.requests
    assert request.requestor == arm.identity_name
    assert request.justification == "jitbot request r-1"
    [opened] = request.virtual_machines[0].ports
    assert (opened.status, opened.status_reason) == ("Revoked", "Expired")
    assert opened.end_time_utc == end


async def test_a_newer_request_supersedes_the_open_one(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, clock: ManualClock, configured: None
) -> None:
    vm1 = world.vm("vm1")
    async with security(arm, credential) as client:
        await initiate(client, initiate_body(vm1.id, 22, clock.now() + timedelta(hours=1), "203.0.113.5"))
        await initiate(client, initiate_body(vm1.id, 22, clock.now() + timedelta(hours=2), "203.0.113.6"))
    [allow] = allow_rules(world)
    assert allow["properties"]["sourceAddressPrefix"] == "203.0.113.6"
    first, second = world.policies[0].requests
    assert first["virtualMachines"][0]["ports"][0]["statusReason"] == "NewerRequestInitiated"
    assert second["virtualMachines"][0]["ports"][0]["status"] == "Initiated"


async def test_two_ports_get_two_rules_with_distinct_priorities(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, clock: ManualClock, configured: None
) -> None:
    end = (clock.now() + timedelta(minutes=30)).isoformat()
    body = {
        "virtualMachines": [
            {
                "id": world.vm("vm1").id,
                "ports": [
                    {"number": 22, "endTimeUtc": end, "allowedSourceAddressPrefix": "203.0.113.5"},
                    {"number": 3389, "endTimeUtc": end, "allowedSourceAddressPrefix": "10.0.0.1"},
                ],
            }
        ]
    }
    async with security(arm, credential) as client:
        answer = await initiate(client, body)
    assert answer.justification is None
    assert sorted(r["properties"]["priority"] for r in allow_rules(world)) == [100, 101]
    clock.advance(timedelta(minutes=30))
    assert arm.expire_windows() == 2
    assert allow_rules(world) == []


async def test_request_history_is_bounded(world: Inventory, clock: ManualClock) -> None:
    vm1 = world.vm("vm1")
    add_policy(world, vm_entry(vm1, port(22)))
    async with ArmEmulator(world, clock=clock, max_requests_history=3) as small:
        for _ in range(5):
            small.jit.initiate(
                world.policies[0], initiate_body(vm1.id, 22, clock.now() + timedelta(hours=1)), clock.now(), ""
            )
            clock.advance(timedelta(minutes=1))
    assert len(world.policies[0].requests) == 3
    assert len(allow_rules(world)) == 1


async def test_windows_can_close_by_themselves(world: Inventory, clock: ManualClock) -> None:
    vm1 = world.vm("vm1")
    add_policy(world, vm_entry(vm1, port(22)))
    emulator = await ArmEmulator(world, clock=clock).start(expire_interval=0.01)
    try:
        emulator.jit.initiate(
            world.policies[0], initiate_body(vm1.id, 22, clock.now() + timedelta(hours=1)), clock.now(), ""
        )
        assert len(allow_rules(world)) == 1
        clock.advance(timedelta(hours=1))
        for _ in range(100):
            if not allow_rules(world):
                break
            await asyncio.sleep(0.01)
    finally:
        await emulator.stop()
    assert allow_rules(world) == []
    assert world.policies[0].requests[0]["virtualMachines"][0]["ports"][0]["statusReason"] == "Expired"
