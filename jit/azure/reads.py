"""ARM reads, each returning Azure's JSON exactly as sent, with SDK failures turned into typed errors.

Results are plain JSON (not SDK models) because a JIT policy must be written back without losing fields
the SDK does not model, and because our own parsers are then the single place that reads Azure's shapes.
"""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from jit.azure.arm_ids import id_segments
from jit.azure.clients import ArmClients
from jit.azure.errors import AzureNotFound
from jit.azure.failures import azure_errors, response_json

RawJson = dict[str, Any]
CLASSIC_API_VERSION = "2017-04-01"
DEFENDER_FOR_SERVERS = "VirtualMachines"
_CLASSIC_ABSENT = {400, 404, 409}


def _raw(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    return response_json(pipeline_response.http_response)


class ArmReader:
    """One method per ARM read the gateway needs; every call is one or more real requests (no caching here)."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def virtual_machines(self, subscription_id: str) -> list[RawJson]:
        """Every Resource Manager VM in the subscription."""
        with azure_errors():
            pager = self._clients.compute(subscription_id).virtual_machines.list_all()
            return [vm.as_dict() async for vm in pager]

    async def classic_virtual_machines(self, subscription_id: str) -> list[RawJson]:
        """Every classic (ASM) VM; the SDK has no operation for them, so this is a plain ARM GET."""
        client = self._clients.compute(subscription_id)
        url: str | None = f"/subscriptions/{subscription_id}/providers/Microsoft.ClassicCompute/virtualMachines"
        params: dict[str, str] | None = {"api-version": CLASSIC_API_VERSION}
        found: list[RawJson] = []
        with azure_errors():
            while url:
                response = await client.send_request(HttpRequest("GET", url, params=params))
                if response.status_code in _CLASSIC_ABSENT:
                    return found
                response.raise_for_status()
                body = response.json()
                found.extend(item for item in body.get("value") or [] if isinstance(item, dict))
                url, params = body.get("nextLink"), None
        return found

    async def network_interfaces(self, subscription_id: str) -> list[RawJson]:
        """Every NIC in the subscription."""
        with azure_errors():
            pager = self._clients.network(subscription_id).network_interfaces.list_all()
            return [nic.as_dict() async for nic in pager]

    async def public_ips(self, subscription_id: str) -> list[RawJson]:
        """Every public IP address resource in the subscription."""
        with azure_errors():
            pager = self._clients.network(subscription_id).public_ip_addresses.list_all()
            return [pip.as_dict() async for pip in pager]

    async def virtual_networks(self, subscription_id: str) -> list[RawJson]:
        """Every VNet (with its subnets and their NSGs) in the subscription."""
        with azure_errors():
            pager = self._clients.network(subscription_id).virtual_networks.list_all()
            return [vnet.as_dict() async for vnet in pager]

    async def defender_for_servers(self, subscription_id: str) -> bool:
        """Whether the Defender for Servers plan (pricing ``VirtualMachines``) is on, which JIT requires."""
        with azure_errors():
            pricing = await self._clients.security(subscription_id).pricings.get(
                f"subscriptions/{subscription_id}", DEFENDER_FOR_SERVERS, cls=_raw
            )
        tier = str((pricing.get("properties") or {}).get("pricingTier") or "")
        return tier.lower() == "standard"

    async def jit_policies(self, subscription_id: str) -> list[RawJson]:
        """Every JIT policy in the subscription, as Azure's JSON (one request per page)."""
        pages: list[RawJson] = []

        def keep_page(pipeline_response: Any) -> None:
            http = pipeline_response.http_response
            if http.status_code == 200:
                pages.append(response_json(http))

        with azure_errors():
            pager = self._clients.security(subscription_id).jit_network_access_policies.list(
                raw_response_hook=keep_page
            )
            async for _ in pager:
                pass
        return [item for page in pages for item in page.get("value") or [] if isinstance(item, dict)]

    async def jit_policy(self, policy_id: str) -> RawJson | None:
        """One JIT policy by id, read fresh; None when it does not exist."""
        segments = id_segments(policy_id)
        client = self._clients.security(segments["subscriptions"])
        try:
            with azure_errors():
                return dict(
                    await client.jit_network_access_policies.get(
                        segments["resourcegroups"],
                        segments["locations"],
                        segments["jitnetworkaccesspolicies"],
                        cls=_raw,
                    )
                )
        except AzureNotFound:
            return None

    async def network_security_group(self, nsg_id: str) -> RawJson:
        """One NSG with its security rules, read fresh."""
        segments = id_segments(nsg_id)
        with azure_errors():
            nsg = await self._clients.network(segments["subscriptions"]).network_security_groups.get(
                segments["resourcegroups"], segments["networksecuritygroups"]
            )
        return dict(nsg.as_dict())
