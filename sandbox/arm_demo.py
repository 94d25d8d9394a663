"""The demo world ``python -m sandbox.arm`` and ``jitbot sandbox`` start with.

A dozen VMs over two subscriptions and three resource groups covering each of the portal's three tabs:
configured (one policy holding several VMs, with some request history written by jitbot and by a portal
user), not configured, and unsupported for every reason (no NSG, classic, Defender for Servers off). One more,
``vault-01``, looks ready for JIT, but an Azure Policy assignment on locked-down VMs denies it: Azure refuses
the first attempt to enable it, and from then on jitbot lists it as unsupported ("disabled by policy").
The demo people's Azure roles, groups and management groups are in ``sandbox.rbac_demo``; what Defender for Cloud
has found on the VMs (recommendations, alerts) and which VM is stopped, in ``sandbox.defender_demo``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jit.justification import Justification
from sandbox.arm_inventory import Inventory, NetworkSecurityGroup, Subscription, VirtualMachine
from sandbox.arm_jit import JitEngine, azure_time
from sandbox.defender_demo import add_demo_findings
from sandbox.rbac_demo import add_demo_rbac
from sandbox.slack_workspace import ADMIN, APPROVER_1, APPROVER_2, ENGINEER

PROD = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e01"
LAB = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e02"
DEMO_REQUESTOR = "jitbot-managed-identity"
LOCKED_DOWN_ASSIGNMENT = "Locked-down VMs: no just-in-time access"


def _port(
    number: int, *, prefix: str = "*", prefixes: list[str] | None = None, maximum: str = "PT3H"
) -> dict[str, Any]:
    port: dict[str, Any] = {"number": number, "protocol": "*", "maxRequestAccessDuration": maximum}
    if prefixes:
        port["allowedSourceAddressPrefixes"] = prefixes
    else:
        port["allowedSourceAddressPrefix"] = prefix
    return port


def _vms() -> list[VirtualMachine]:
    prod = {"env": "prod"}
    dev = {"env": "dev"}
    return [
        VirtualMachine(
            PROD,
            "rg-web",
            "web-01",
            "westeurope",
            "Linux",
            nic_nsg="web-nsg",
            private_ip="10.0.1.4",
            public_ip="20.61.10.4",
            tags=prod,
        ),
        VirtualMachine(
            PROD,
            "rg-web",
            "web-02",
            "westeurope",
            "Linux",
            nic_nsg="web-nsg",
            private_ip="10.0.1.5",
            public_ip="20.61.10.5",
            tags=prod,
        ),
        VirtualMachine(
            PROD,
            "rg-web",
            "bastion-win",
            "westeurope",
            "Windows",
            nic_nsg="web-nsg",
            private_ip="10.0.1.6",
            public_ip="20.61.10.6",
            tags=prod,
            vm_size="Standard_D2s_v5",
        ),
        VirtualMachine(
            PROD,
            "rg-web",
            "build-01",
            "westeurope",
            "Linux",
            subnet_nsg="web-subnet-nsg",
            private_ip="10.0.2.4",
            tags=dev,
        ),
        VirtualMachine(PROD, "rg-web", "legacy-app", "westeurope", "Windows", private_ip="10.0.3.4", tags=prod),
        VirtualMachine(
            PROD,
            "rg-web",
            "old-classic",
            "westeurope",
            "Windows",
            classic=True,
            private_ip="10.0.4.4",
            public_ip="20.61.10.9",
        ),
        VirtualMachine(
            PROD,
            "rg-data",
            "db-01",
            "northeurope",
            "Linux",
            nic_nsg="data-nsg",
            private_ip="10.1.1.4",
            tags=prod,
            vm_size="Standard_E4s_v5",
        ),
        VirtualMachine(
            PROD,
            "rg-data",
            "db-02",
            "northeurope",
            "Linux",
            nic_nsg="data-nsg",
            private_ip="10.1.1.5",
            tags=prod,
            vm_size="Standard_E4s_v5",
        ),
        VirtualMachine(
            PROD,
            "rg-data",
            "analytics-win",
            "northeurope",
            "Windows",
            subnet_nsg="data-subnet-nsg",
            private_ip="10.1.2.4",
            public_ip="52.164.20.7",
            tags=dev,
        ),
        VirtualMachine(
            PROD,
            "rg-data",
            "vault-01",
            "northeurope",
            "Linux",
            nic_nsg="data-nsg",
            private_ip="10.1.1.6",
            tags={"env": "prod", "lockdown": "true"},
            vm_size="Standard_D2s_v5",
            jit_denied_by_policy=LOCKED_DOWN_ASSIGNMENT,
        ),
        VirtualMachine(
            LAB, "rg-lab", "lab-01", "westeurope", "Linux", nic_nsg="lab-nsg", private_ip="10.2.1.4", tags=dev
        ),
        VirtualMachine(
            LAB,
            "rg-lab",
            "lab-win",
            "westeurope",
            "Windows",
            nic_nsg="lab-nsg",
            private_ip="10.2.1.5",
            public_ip="20.61.30.5",
            tags=dev,
        ),
        VirtualMachine(LAB, "rg-lab", "lab-02", "westeurope", "Linux", private_ip="10.2.1.6", tags=dev),
    ]


def _nsgs() -> list[NetworkSecurityGroup]:
    https = {
        "name": "allow-https",
        "properties": {
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": "443",
            "sourceAddressPrefix": "Internet",
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "priority": 300,
            "direction": "Inbound",
        },
    }
    return [
        NetworkSecurityGroup(PROD, "rg-web", "web-nsg", "westeurope", rules=[https]),
        NetworkSecurityGroup(PROD, "rg-web", "web-subnet-nsg", "westeurope"),
        NetworkSecurityGroup(PROD, "rg-data", "data-nsg", "northeurope"),
        NetworkSecurityGroup(PROD, "rg-data", "data-subnet-nsg", "northeurope"),
        NetworkSecurityGroup(LAB, "rg-lab", "lab-nsg", "westeurope"),
    ]


def _request(
    vm: VirtualMachine,
    ports: list[int],
    *,
    start: datetime,
    hours: float,
    source: str,
    requestor: str = DEMO_REQUESTOR,
    justification: str | None = None,
) -> dict[str, Any]:
    end = start + timedelta(hours=hours)
    request: dict[str, Any] = {
        "virtualMachines": [
            {
                "id": vm.id,
                "ports": [
                    {
                        "number": number,
                        "allowedSourceAddressPrefix": source,
                        "endTimeUtc": azure_time(end),
                        "status": "Revoked",
                        "statusReason": "Expired",
                    }
                    for number in ports
                ],
            }
        ],
        "startTimeUtc": azure_time(start),
        "requestor": requestor,
    }
    if justification is not None:
        request["justification"] = justification
    return request


def demo_inventory(now: datetime | None = None) -> Inventory:
    """A fresh demo world; request history is placed in the days before ``now`` (default: the wall clock)."""
    moment = now or datetime.now(UTC)
    inventory = Inventory(
        subscriptions=[
            Subscription(PROD, "Contoso Production", defender_for_servers=True),
            Subscription(LAB, "Contoso Lab", defender_for_servers=False),
        ],
        vms=_vms(),
        nsgs=_nsgs(),
    )
    add_demo_rbac(inventory, PROD, LAB)
    add_demo_findings(inventory, moment)
    engine = JitEngine(inventory, requestor=DEMO_REQUESTOR)
    web = [inventory.vm("web-01"), inventory.vm("web-02"), inventory.vm("bastion-win")]
    engine.put(
        PROD,
        "rg-web",
        "westeurope",
        "default",
        {
            "kind": "Basic",
            "properties": {
                "virtualMachines": [
                    {"id": web[0].id, "ports": [_port(22), _port(8080, maximum="PT1H")]},
                    {"id": web[1].id, "ports": [_port(22)]},
                    {"id": web[2].id, "ports": [_port(3389), _port(5985), _port(5986, maximum="PT8H")]},
                ]
            },
        },
    )
    db, analytics = inventory.vm("db-01"), inventory.vm("analytics-win")
    engine.put(
        PROD,
        "rg-data",
        "northeurope",
        "default",
        {
            "kind": "Basic",
            "properties": {
                "virtualMachines": [
                    {"id": db.id, "ports": [_port(22, prefixes=["10.0.0.0/8", "203.0.113.0/24"], maximum="PT2H")]},
                    {"id": analytics.id, "ports": [_port(3389, prefix="203.0.113.0/24", maximum="PT4H")]},
                ]
            },
        },
    )
    web_policy, data_policy = inventory.policies
    day = timedelta(days=1)
    web_policy.requests = [
        _request(web[0], [22], start=moment - 9 * day, hours=2, source="198.51.100.7", requestor="alice@contoso.com"),
        _request(
            web[0],
            [22],
            start=moment - 3 * day,
            hours=1,
            source="203.0.113.10",
            justification=Justification("r-7f3a9c", ENGINEER, APPROVER_1, "deploy hotfix 4.2.1").render(),
        ),
        _request(
            web[2],
            [3389],
            start=moment - 2 * day,
            hours=0.5,
            source="203.0.113.24",
            justification=Justification("r-81b2d0", APPROVER_2, APPROVER_1, "check IIS logs").render(),
        ),
        _request(
            web[1],
            [22],
            start=moment - day,
            hours=2,
            source="203.0.113.10",
            justification=Justification("r-93c4e1", ENGINEER, ADMIN, "").render(),
        ),
    ]
    data_policy.requests = [
        _request(
            db,
            [22],
            start=moment - 4 * day,
            hours=1.5,
            source="10.20.0.15",
            justification=Justification("r-6a1d77", ADMIN, APPROVER_1, "vacuum full on orders table").render(),
        ),
    ]
    return inventory
