"""Resource Graph rows assembled a page at a time: the same VMs as all the rows at once, wherever pages split."""

from __future__ import annotations

from typing import Any

from jit.azure.graph_assembly import GraphAssembly, assemble

SUB = "11111111-1111-4111-8111-111111111111"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-app"
NIC = f"{GROUP}/providers/Microsoft.Network/networkInterfaces/web-01-nic"
SECOND_NIC = f"{GROUP}/providers/Microsoft.Network/networkInterfaces/web-01-nic2"
NSG = f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/nsg-app"
SUBNET = f"{GROUP.lower()}/providers/microsoft.network/virtualnetworks/vnet/subnets/default"
OTHER_SUBNET = f"{GROUP.lower()}/providers/microsoft.network/virtualnetworks/vnet/subnets/back"
PIP = f"{GROUP.lower()}/providers/microsoft.network/publicipaddresses/web-01-ip"


def wiring(
    nic: str, private_ip: str, subnet: str, *, nsg: str = "", pip: str = "", public_ip: str | None = None
) -> Any:
    return {
        "id": nic,
        "nsgId": nsg,
        "privateIp": private_ip,
        "subnetId": subnet,
        "pipId": pip,
        "publicIp": public_ip,
        "subnetNsgId": NSG if subnet == OTHER_SUBNET else "",
    }


def vm(name: str, nics: list[str], *, classic: bool = False) -> Any:
    provider = "Microsoft.ClassicCompute" if classic else "Microsoft.Compute"
    return {
        "id": f"{GROUP}/providers/{provider}/virtualMachines/{name}",
        "name": name,
        "type": f"{provider.lower()}/virtualmachines",
        "location": "West Europe",
        "subscriptionId": SUB,
        "tags": {"env": "prod"},
        "osType": "" if classic else "Linux",
        "nics": [{"id": nic, "properties": {"primary": index == 1}} for index, nic in enumerate(nics)],
        "classicOs": "Linux" if classic else "",
        "classicView": {"privateIpAddress": "10.9.0.4"} if classic else None,
    }


WIRING = [
    wiring(NIC, "10.0.0.4", SUBNET, nsg=NSG, pip=PIP, public_ip="20.1.2.3"),
    wiring(SECOND_NIC, "10.0.1.4", OTHER_SUBNET),
    wiring(NIC, "10.0.0.5", OTHER_SUBNET, nsg=NSG),
]
VMS = [vm("old-01", [], classic=True), vm("web-01", [NIC, SECOND_NIC]), vm("api-01", [])]


def test_pages_give_the_vms_all_rows_give() -> None:
    whole = assemble(VMS, WIRING)
    assembly = GraphAssembly()
    for page in ([WIRING[0]], WIRING[1:]):
        assembly.add_wiring(page)
    for page in (VMS[:2], VMS[2:]):
        assembly.add_vms(page)

    paged = assembly.result()

    assert paged == whole
    assert [item.vm.ref.name for item in paged.by_subscription[SUB]] == ["web-01", "api-01", "old-01"]


def test_a_nic_whose_configurations_span_pages_keeps_them_all_in_order() -> None:
    assembly = GraphAssembly()
    for row in WIRING:
        assembly.add_wiring([row])
    assembly.add_vms(VMS)

    web = assembly.result().by_subscription[SUB][0]

    assert web.vm.private_ips == ("10.0.1.4", "10.0.0.4", "10.0.0.5"), "primary NIC first, then configuration order"
    assert web.vm.public_ips == ("20.1.2.3",)
    assert web.nic_nsg_ids == (NSG,)
    assert web.subnet_ids == (OTHER_SUBNET, SUBNET)
    assert web.vm.ref.location == "westeurope"
    assert assembly.result().subnet_nsgs == {SUBNET: None, OTHER_SUBNET: NSG}


def test_vms_built_together_share_their_repeated_values() -> None:
    web, api, old = assemble(VMS, WIRING).by_subscription[SUB]

    assert web.vm.tags is api.vm.tags is old.vm.tags
    assert web.vm.ref.resource_group is api.vm.ref.resource_group
    assert web.vm.ref.subscription_id is old.vm.ref.subscription_id
