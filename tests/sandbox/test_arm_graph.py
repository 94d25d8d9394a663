"""Resource Graph on the ARM emulator: the swagger's request and answer, the KQL subset, scope, paging, 403 and 429."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.resourcegraph.aio import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from sandbox import arm_resources as shapes
from sandbox.arm import ArmEmulator
from sandbox.arm_context import graph_instance_view
from sandbox.arm_errors import ArmError
from sandbox.arm_graph import ResourceTable, answer
from sandbox.arm_inventory import Inventory, ManagementGroup
from sandbox.arm_schema import RESOURCE_GRAPH_SWAGGER, problems
from tests.sandbox.arm_support import (  # noqa: F401
    FREE_SUB,
    RG,
    SUB,
    arm_fixture,
    client_options,
    clock_fixture,
    credential_fixture,
    example,
    world_fixture,
)

EXAMPLES = RESOURCE_GRAPH_SWAGGER.parent / "examples"
NEXT_PAGE = Path(str(RESOURCE_GRAPH_SWAGGER).replace("2021-03-01", "2019-04-01")).parent / "examples"


def ask(world: Inventory, query: str, **body: Any) -> dict[str, Any]:
    """Run a query the way the route does and check the answer against the swagger."""
    found = answer(world, ResourceTable(), {"query": query, **body})
    # The swagger types ``data`` as an object, but its own examples answer an array for the default objectArray format.
    shape = {**found, "data": {}} if isinstance(found["data"], list) else found
    assert problems(RESOURCE_GRAPH_SWAGGER, "QueryResponse", shape) == []
    return found


def test_the_examples_requests_are_accepted_and_answered_in_their_shape(world: Inventory) -> None:
    for name in ("ResourcesBasicQuery.json", "ResourcesMgBasicQuery.json"):
        sample = example(EXAMPLES / name)
        body = dict(sample["parameters"]["query"])
        if "subscriptions" in body:
            body["subscriptions"] = [SUB]  # the example's subscription is not in this world
        if "managementGroups" in body:
            world.management_groups = [ManagementGroup(g, g, None, [SUB]) for g in body["managementGroups"]]
        found = ask(world, body.pop("query"), **body)
        expected = sample["responses"]["200"]["body"]
        assert set(found) == set(expected)
        assert found["count"] == 3 and found["resultTruncated"] == "false"
        assert set(found["data"][0]) == set(expected["data"][0])
        assert all(row["type"] == row["type"].lower() for row in found["data"])


def test_a_vm_row_carries_what_the_rest_get_returns(world: Inventory) -> None:
    [row] = ask(world, "Resources | where type =~ 'Microsoft.Compute/virtualMachines' and name == 'vm1'")["data"]
    vm = next(v for v in world.vms if v.name == "vm1")
    extended = {"extended": {"instanceView": graph_instance_view(vm)}}
    assert row["properties"] == {**shapes.virtual_machine(vm)["properties"], **extended}
    assert (row["resourceGroup"], row["subscriptionId"], row["id"]) == (RG.lower(), SUB, vm.id)


def test_a_vm_row_carries_the_instance_view_as_resource_graph_copies_it(world: Inventory) -> None:
    """``properties.extended.instanceView``: power state always, the guest agent's OS while running; a change of
    power state shows in the next query."""
    vm = next(v for v in world.vms if v.name == "vm1" and not v.classic)
    query = (
        "Resources | where type =~ 'Microsoft.Compute/virtualMachines' and name == 'vm1'"
        " | project power = tostring(properties.extended.instanceView.powerState.code),"
        " os = tostring(properties.extended.instanceView.osName)"
    )
    table = ResourceTable()
    assert answer(world, table, {"query": query})["data"] == [{"power": "PowerState/running", "os": "ubuntu"}]
    vm.power_state = "deallocated"
    assert answer(world, table, {"query": query})["data"] == [{"power": "PowerState/deallocated", "os": ""}]


def test_where_project_extend_order_and_take(world: Inventory) -> None:
    query = (
        "Resources | where type =~ 'microsoft.compute/virtualmachines' and subscriptionId =~ '" + SUB + "'"
        " | extend os = tostring(properties.storageProfile.osDisk.osType)"
        " | where os in~ ('windows') or name startswith 'EAST'"
        " | project id, name, os | order by name asc | take 2"
    )
    rows = ask(world, query)["data"]
    assert [(row["name"], row["os"]) for row in rows] == [("east1", "Linux"), ("vm2", "Windows")]
    assert set(rows[0]) == {"id", "name", "os"}


def test_join_on_ids_keeps_unmatched_rows_and_suffixes_clashing_columns(world: Inventory) -> None:
    query = (
        "Resources | where type =~ 'microsoft.network/networkinterfaces'"
        " | mv-expand ipconfig = properties.ipConfigurations"
        " | project id, pipId = tolower(tostring(ipconfig.properties.publicIPAddress.id))"
        " | join kind=leftouter (Resources | where type =~ 'microsoft.network/publicipaddresses'"
        " | project pipId = tolower(id), ip = tostring(properties.ipAddress), id) on pipId"
        " | order by id asc"
    )
    rows = ask(world, query, subscriptions=[SUB])["data"]
    assert len(rows) == 5, "one per NIC: vm1, vm2, vm3, bare, east1 (the classic VM has none)"
    with_ip = [row for row in rows if row["ip"]]
    assert [row["ip"] for row in with_ip] == ["20.0.0.4"]
    assert with_ip[0]["id1"].endswith("/publicIPAddresses/vm1-ip") and with_ip[0]["pipId1"] == with_ip[0]["pipId"]
    assert all(row["ip"] is None for row in rows if not row["pipId"])


def test_scope_keeps_other_subscriptions_out(world: Inventory) -> None:
    names = {row["name"] for row in ask(world, "Resources | project id, name", subscriptions=[FREE_SUB])["data"]}
    assert "free1" in names and "vm1" not in names
    world.management_groups = [ManagementGroup("top", "top", None, []), ManagementGroup("leaf", "leaf", "top", [SUB])]
    names = {row["name"] for row in ask(world, "Resources | project id, name", managementGroups=["top"])["data"]}
    assert "vm1" in names and "free1" not in names


def test_paging_with_skip_token_and_truncation_without_id(world: Inventory) -> None:
    sample = example(NEXT_PAGE / "ResourcesNextPageQuery.json")
    table = ResourceTable()
    body: dict[str, Any] = {"query": "Resources | project id, name | order by id asc", "options": {"$top": 4}}
    first = answer(world, table, body)
    assert set(sample["responses"]["200"]["body"]) <= set(first) | {"facets"}
    seen = list(first["data"])
    token = first["$skipToken"]
    while token:
        page = answer(world, table, {**body, "options": {"$top": 4, "$skipToken": token}})
        seen += page["data"]
        token = page.get("$skipToken")
    assert len(seen) == first["totalRecords"] > 4
    assert len({row["id"] for row in seen}) == len(seen)
    truncated = answer(world, table, {"query": "Resources | project name", "options": {"$top": 4}})
    assert truncated["resultTruncated"] == "true" and "$skipToken" not in truncated
    assert truncated["count"] == 4


@pytest.mark.parametrize(
    "query",
    [
        "Resources | summarize count() by type",
        "ResourceContainers | project id",
        "Resources | where name == ",
        "Resources | project id | where foo(id)",
    ],
)
def test_queries_outside_the_subset_are_a_bad_request(world: Inventory, query: str) -> None:
    with pytest.raises(ArmError) as caught:
        answer(world, ResourceTable(), {"query": query})
    assert (caught.value.status, caught.value.code) == (400, "BadRequest")


def test_a_body_outside_the_swagger_is_a_bad_request(world: Inventory) -> None:
    with pytest.raises(ArmError) as caught:
        answer(world, ResourceTable(), {"query": "Resources", "options": {"$top": 5000}})
    assert caught.value.status == 400
    assert "$top" in caught.value.message


async def test_the_real_client_pages_gets_403_without_access_and_429_past_the_quota(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    async with ResourceGraphClient(credential, **client_options(arm, retry_total=0)) as client:
        request = QueryRequest(
            subscriptions=[SUB], query="Resources | project id, name", options=QueryRequestOptions(top=3)
        )
        first = await client.resources(request)
        assert first.count == 3 and first.skip_token
        quota = arm.calls[-1]
        assert quota.operation == "resourcegraph.resources" and not quota.is_write
        arm.graph_quota.limit = 1
        with pytest.raises(HttpResponseError) as throttled:
            await client.resources(request)
        assert throttled.value.status_code == 429
        assert throttled.value.response.headers["x-ms-user-quota-remaining"] == "0"
        assert int(throttled.value.response.headers["Retry-After"]) >= 1
        arm.graph_quota.limit = 0
        arm.graph_denied = True
        with pytest.raises(HttpResponseError) as denied:
            await client.resources(request)
        assert denied.value.status_code == 403
        assert "Microsoft.ResourceGraph/resources/read" in str(denied.value)
