"""Azure-shaped JSON for the inventory's resources, following the official examples in ``sandbox/specs``.

The inventory keeps only what jitbot cares about; everything else a real resource carries (vmId, MAC,
etags, default NSG rules, …) is derived deterministically here so repeated reads answer the same body.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sandbox.arm_inventory import Inventory, JitPolicy, NetworkSecurityGroup, Subscription, VirtualMachine

_NAMESPACE = uuid.UUID("5f0c1e9a-2b7d-4c1e-8f3a-9d6b0a4c2e71")
DEFAULT_SUBNET = "default"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(p.lower() for p in parts)))


def _etag(*parts: str) -> str:
    return f'W/"{_uuid("etag", *parts)}"'


def rg_prefix(subscription_id: str, resource_group: str) -> str:
    """``/subscriptions/{sub}/resourceGroups/{rg}``."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def vnet_name(vm: VirtualMachine) -> str:
    """Every resource group has one synthesised virtual network, ``{rg}-vnet``."""
    return f"{vm.resource_group}-vnet"


def subnet_name(vm: VirtualMachine) -> str:
    """VMs whose subnet carries an NSG sit in a subnet named after it; the others in ``default``."""
    return f"snet-{vm.subnet_nsg}" if vm.subnet_nsg else DEFAULT_SUBNET


def subnet_id(vm: VirtualMachine) -> str:
    """ARM id of the VM's subnet."""
    return (
        f"{rg_prefix(vm.subscription_id, vm.resource_group)}/providers/Microsoft.Network/virtualNetworks/"
        f"{vnet_name(vm)}/subnets/{subnet_name(vm)}"
    )


def nic_id(vm: VirtualMachine) -> str:
    """ARM id of the VM's only NIC."""
    prefix = rg_prefix(vm.subscription_id, vm.resource_group)
    return f"{prefix}/providers/Microsoft.Network/networkInterfaces/{vm.nic_name}"


def public_ip_name(vm: VirtualMachine) -> str:
    """Name of the VM's public IP resource (exists only when ``vm.public_ip`` is set)."""
    return f"{vm.name}-ip"


def public_ip_id(vm: VirtualMachine) -> str:
    """ARM id of the VM's public IP resource."""
    return (
        f"{rg_prefix(vm.subscription_id, vm.resource_group)}/providers/Microsoft.Network/publicIPAddresses/"
        f"{public_ip_name(vm)}"
    )


def nsg_id(subscription_id: str, resource_group: str, name: str) -> str:
    """ARM id of an NSG."""
    return f"{rg_prefix(subscription_id, resource_group)}/providers/Microsoft.Network/networkSecurityGroups/{name}"


def effective_nsg(inventory: Inventory, vm: VirtualMachine) -> NetworkSecurityGroup | None:
    """The NSG JIT writes its rules to: the NIC's, else the subnet's; None when the VM has neither."""
    for name in (vm.nic_nsg, vm.subnet_nsg):
        if name:
            nsg = inventory.nsg(vm.subscription_id, vm.resource_group, name)
            if nsg is not None:
                return nsg
    return None


def virtual_machine(vm: VirtualMachine) -> dict[str, Any]:
    """A Microsoft.Compute VM like VirtualMachine_Get.json (without the example's optional extras)."""
    windows = vm.os_type.lower() == "windows"
    image = (
        {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition"}
        if windows
        else {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
    )
    os_config: dict[str, Any] = (
        {"windowsConfiguration": {"provisionVMAgent": True, "enableAutomaticUpdates": True}}
        if windows
        else {"linuxConfiguration": {"disablePasswordAuthentication": True, "provisionVMAgent": True}}
    )
    disk = f"{vm.name}_OsDisk_1"
    prefix = rg_prefix(vm.subscription_id, vm.resource_group)
    return {
        "name": vm.name,
        "id": vm.id,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "tags": dict(vm.tags),
        "etag": '"1"',
        "properties": {
            "vmId": _uuid("vm", vm.id),
            "hardwareProfile": {"vmSize": vm.vm_size},
            "storageProfile": {
                "imageReference": {**image, "version": "latest"},
                "osDisk": {
                    "osType": "Windows" if windows else "Linux",
                    "name": disk,
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {
                        "storageAccountType": "Premium_LRS",
                        "id": f"{prefix}/providers/Microsoft.Compute/disks/{disk}",
                    },
                    "diskSizeGB": 127 if windows else 30,
                },
                "dataDisks": [],
            },
            "osProfile": {"computerName": vm.name[:15], "adminUsername": "azureuser", **os_config, "secrets": []},
            "networkProfile": {"networkInterfaces": [{"id": nic_id(vm), "properties": {"primary": True}}]},
            "provisioningState": "Succeeded",
            "timeCreated": "2026-01-05T10:00:00.0000000+00:00",
        },
    }


def classic_virtual_machine(vm: VirtualMachine) -> dict[str, Any]:
    """A Microsoft.ClassicCompute VM as ARM lists it (the classic shape: no NICs, cloud service endpoints)."""
    windows = vm.os_type.lower() == "windows"
    return {
        "id": vm.id,
        "name": vm.name,
        "type": "Microsoft.ClassicCompute/virtualMachines",
        "location": vm.location,
        "properties": {
            "provisioningState": "Succeeded",
            "hardwareProfile": {
                "platformGuestAgent": True,
                "size": "Small",
                "deploymentName": vm.name,
                "deploymentId": _uuid("deployment", vm.id).replace("-", ""),
                "deploymentLabel": vm.name,
                "deploymentLocked": False,
            },
            "instanceView": {
                "status": "ReadyRole",
                "powerState": "Started",
                "fullyQualifiedDomainName": f"{vm.name.lower()}.cloudapp.net",
                "privateIpAddress": vm.private_ip,
                **({"publicIpAddresses": [vm.public_ip]} if vm.public_ip else {}),
            },
            "domainName": {
                "id": f"{rg_prefix(vm.subscription_id, vm.resource_group)}/providers/Microsoft.ClassicCompute/"
                f"domainNames/{vm.name}",
                "name": vm.name,
                "type": "Microsoft.ClassicCompute/domainNames",
            },
            "storageProfile": {
                "operatingSystemDisk": {
                    "diskName": f"{vm.name}-os",
                    "caching": "ReadWrite",
                    "operatingSystem": "Windows" if windows else "Linux",
                    "ioType": "Standard",
                }
            },
            "networkProfile": {
                "inputEndpoints": [
                    {
                        "endpointName": "RemoteDesktop" if windows else "SSH",
                        "privatePort": 3389 if windows else 22,
                        "publicPort": 3389 if windows else 22,
                        "protocol": "tcp",
                        "enableDirectServerReturn": False,
                    }
                ]
            },
        },
    }


def network_interface(vm: VirtualMachine) -> dict[str, Any]:
    """The VM's NIC like NetworkInterfaceGet.json: one primary IP configuration."""
    ipconfig: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "privateIPAddress": vm.private_ip,
        "privateIPAllocationMethod": "Dynamic",
        "subnet": {"id": subnet_id(vm)},
        "primary": True,
        "privateIPAddressVersion": "IPv4",
    }
    if vm.public_ip:
        ipconfig["publicIPAddress"] = {"id": public_ip_id(vm)}
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": _uuid("nic", vm.id),
        "ipConfigurations": [
            {
                "name": "ipconfig1",
                "id": f"{nic_id(vm)}/ipConfigurations/ipconfig1",
                "etag": _etag("ipconfig", vm.id),
                "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                "properties": ipconfig,
            }
        ],
        "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
        "macAddress": _mac(vm.id),
        "enableAcceleratedNetworking": False,
        "enableIPForwarding": False,
        "primary": True,
        "virtualMachine": {"id": vm.id},
        "nicType": "Standard",
    }
    if vm.nic_nsg:
        properties["networkSecurityGroup"] = {"id": nsg_id(vm.subscription_id, vm.resource_group, vm.nic_nsg)}
    return {
        "name": vm.nic_name,
        "id": nic_id(vm),
        "etag": _etag("nic", vm.id),
        "location": vm.location,
        "tags": {},
        "type": "Microsoft.Network/networkInterfaces",
        "properties": properties,
    }


def public_ip_address(vm: VirtualMachine) -> dict[str, Any]:
    """The VM's static public IP resource."""
    return {
        "name": public_ip_name(vm),
        "id": public_ip_id(vm),
        "etag": _etag("pip", vm.id),
        "location": vm.location,
        "type": "Microsoft.Network/publicIPAddresses",
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": _uuid("pip", vm.id),
            "ipAddress": vm.public_ip,
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "idleTimeoutInMinutes": 4,
            "ipConfiguration": {"id": f"{nic_id(vm)}/ipConfigurations/ipconfig1"},
        },
    }


def security_rule(nsg: NetworkSecurityGroup, rule: dict[str, Any]) -> dict[str, Any]:
    """One NSG rule with its id and type filled in."""
    name = str(rule["name"])
    return {
        "name": name,
        "id": rule.get("id") or f"{nsg.id}/securityRules/{name}",
        "etag": rule.get("etag") or _etag("rule", nsg.id, name),
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {"provisioningState": "Succeeded", **rule.get("properties", {})},
    }


_VNET = "VirtualNetwork"
_DEFAULT_RULES: tuple[tuple[str, str, str, str, str, int, str], ...] = (
    ("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", _VNET, _VNET, "Allow", 65000, "Inbound"),
    (
        "AllowAzureLoadBalancerInBound",
        "Allow inbound traffic from azure load balancer",
        "AzureLoadBalancer",
        "*",
        "Allow",
        65001,
        "Inbound",
    ),
    ("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", 65500, "Inbound"),
    (
        "AllowVnetOutBound",
        "Allow outbound traffic from all VMs to all VMs in VNET",
        _VNET,
        _VNET,
        "Allow",
        65000,
        "Outbound",
    ),
    (
        "AllowInternetOutBound",
        "Allow outbound traffic from all VMs to Internet",
        "*",
        "Internet",
        "Allow",
        65001,
        "Outbound",
    ),
    ("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", 65500, "Outbound"),
)


def network_security_group(inventory: Inventory, nsg: NetworkSecurityGroup) -> dict[str, Any]:
    """An NSG like NetworkSecurityGroupGet.json, with the NICs and subnets that use it."""
    vms = [vm for vm in inventory.in_group(nsg.subscription_id, nsg.resource_group) if not vm.classic]
    nics = [{"id": nic_id(vm)} for vm in vms if (vm.nic_nsg or "").lower() == nsg.name.lower()]
    subnets = sorted({subnet_id(vm) for vm in vms if (vm.subnet_nsg or "").lower() == nsg.name.lower()}, key=str.lower)
    defaults = [
        {
            "name": name,
            "id": f"{nsg.id}/defaultSecurityRules/{name}",
            "etag": _etag("default", nsg.id, name),
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
            "properties": {
                "provisioningState": "Succeeded",
                "description": description,
                "protocol": "*",
                "sourcePortRange": "*",
                "destinationPortRange": "*",
                "sourceAddressPrefix": source,
                "destinationAddressPrefix": destination,
                "access": access,
                "priority": priority,
                "direction": direction,
            },
        }
        for name, description, source, destination, access, priority, direction in _DEFAULT_RULES
    ]
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": _uuid("nsg", nsg.id),
        "securityRules": [security_rule(nsg, rule) for rule in nsg.rules],
        "defaultSecurityRules": defaults,
    }
    if nics:
        properties["networkInterfaces"] = nics
    if subnets:
        properties["subnets"] = [{"id": s} for s in subnets]
    return {
        "name": nsg.name,
        "id": nsg.id,
        "etag": _etag("nsg", nsg.id),
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": nsg.location,
        "tags": {},
        "properties": properties,
    }


def subnet(inventory: Inventory, members: list[VirtualMachine]) -> dict[str, Any]:
    """A subnet of a synthesised VNet; ``members`` are the VMs in it (all agree on its NSG)."""
    first = members[0]
    index = _subnet_index(inventory, first)
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "addressPrefix": f"10.0.{index}.0/24",
        "ipConfigurations": [{"id": f"{nic_id(vm)}/ipConfigurations/ipconfig1"} for vm in members],
        "privateEndpointNetworkPolicies": "Disabled",
        "privateLinkServiceNetworkPolicies": "Enabled",
    }
    if first.subnet_nsg:
        properties["networkSecurityGroup"] = {
            "id": nsg_id(first.subscription_id, first.resource_group, first.subnet_nsg)
        }
    return {
        "name": subnet_name(first),
        "id": subnet_id(first),
        "etag": _etag("subnet", subnet_id(first)),
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": properties,
    }


def subnet_members(
    inventory: Inventory, subscription_id: str, resource_group: str, vnet: str, name: str
) -> list[VirtualMachine]:
    """The ARM VMs whose NIC sits in that subnet (empty when the subnet does not exist)."""
    return [
        vm
        for vm in inventory.in_group(subscription_id, resource_group)
        if not vm.classic and vnet_name(vm).lower() == vnet.lower() and subnet_name(vm).lower() == name.lower()
    ]


def virtual_network(inventory: Inventory, members: list[VirtualMachine]) -> dict[str, Any]:
    """A resource group's synthesised VNet with its subnets; ``members`` are the VMs in that group."""
    first = members[0]
    by_subnet: dict[str, list[VirtualMachine]] = {}
    for vm in members:
        by_subnet.setdefault(subnet_name(vm).lower(), []).append(vm)
    prefix = rg_prefix(first.subscription_id, first.resource_group)
    vnet_id = f"{prefix}/providers/Microsoft.Network/virtualNetworks/{vnet_name(first)}"
    return {
        "name": vnet_name(first),
        "id": vnet_id,
        "etag": _etag("vnet", vnet_id),
        "type": "Microsoft.Network/virtualNetworks",
        "location": first.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": _uuid("vnet", vnet_id),
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [subnet(inventory, group) for _, group in sorted(by_subnet.items())],
            "virtualNetworkPeerings": [],
            "enableDdosProtection": False,
        },
    }


def pricing(subscription: Subscription, name: str) -> dict[str, Any]:
    """A subscription's Defender plan like GetPricingByNameVirtualMachines_example.json."""
    standard = subscription.defender_for_servers if name.lower() == "virtualmachines" else False
    properties: dict[str, Any] = {
        "pricingTier": "Standard" if standard else "Free",
        "freeTrialRemainingTime": "PT0S",
        "enforce": "False",
        "resourcesCoverageStatus": "FullyCovered" if standard else "NotCovered",
    }
    if standard:
        properties["subPlan"] = "P2"
        properties["enablementTime"] = "2026-01-05T10:00:00.0000000Z"
        properties["extensions"] = [
            {"name": "MdeDesignatedSubscription", "isEnabled": "False"},
            {"name": "AgentlessVmScanning", "isEnabled": "True"},
        ]
    return {
        "id": f"/subscriptions/{subscription.id}/providers/Microsoft.Security/pricings/{name}",
        "name": name,
        "type": "Microsoft.Security/pricings",
        "properties": properties,
    }


PRICING_NAMES = (
    "VirtualMachines",
    "SqlServers",
    "AppServices",
    "StorageAccounts",
    "SqlServerVirtualMachines",
    "KeyVaults",
    "Arm",
    "OpenSourceRelationalDatabases",
    "CosmosDbs",
    "Containers",
    "CloudPosture",
    "Api",
)


def asc_location(subscription_id: str, name: str) -> dict[str, Any]:
    """A Microsoft.Security/locations entry as in the azure-cli recording."""
    return {
        "id": f"/subscriptions/{subscription_id}/providers/Microsoft.Security/locations/{name}",
        "name": name,
        "type": "Microsoft.Security/locations",
        "properties": {"homeRegionName": name},
    }


def jit_policy(policy: JitPolicy) -> dict[str, Any]:
    """A JIT policy resource like GetJitNetworkAccessPolicy_example.json."""
    return {
        "kind": policy.kind,
        "properties": {
            "virtualMachines": policy.virtual_machines,
            "requests": policy.requests,
            "provisioningState": "Succeeded",
        },
        "id": policy.id,
        "name": policy.name,
        "type": "Microsoft.Security/locations/jitNetworkAccessPolicies",
        "location": policy.location,
    }


def _subnet_index(inventory: Inventory, vm: VirtualMachine) -> int:
    names = sorted(
        {
            subnet_name(other).lower()
            for other in inventory.in_group(vm.subscription_id, vm.resource_group)
            if not other.classic
        }
    )
    return names.index(subnet_name(vm).lower()) if subnet_name(vm).lower() in names else 0


def _mac(seed: str) -> str:
    digest = hashlib.sha256(seed.lower().encode()).hexdigest()[:8].upper()
    return "00-0D-" + "-".join(digest[i : i + 2] for i in range(0, 8, 2))
