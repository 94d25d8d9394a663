"""ARM reads, each returning Azure's JSON exactly as sent, with SDK failures turned into typed errors.

Results are plain JSON (not SDK models) because a JIT policy must be written back without losing fields
the SDK does not model, and because our own parsers are then the single place that reads Azure's shapes.
"""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors, response_json
from jit.ports.azure_errors import AzureNotFound
from jit.resource_ids import id_segments

RawJson = dict[str, Any]
CLASSIC_API_VERSION = "2017-04-01"
COMPUTE_API_VERSION = "2024-07-01"
NETWORK_API_VERSION = "2024-05-01"
JIT_API_VERSION = "2020-01-01"
PRICING_API_VERSION = "2024-01-01"
DEFENDER_FOR_SERVERS = "VirtualMachines"
_CLASSIC_ABSENT = frozenset({400, 404, 409})


def _raw(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    return response_json(pipeline_response.http_response)


class ArmReader:
    """One method per ARM read the gateway needs; every call is one or more real requests (no caching here)."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def _list(
        self, subscription_id: str, path: str, api_version: str, absent: frozenset[int] = frozenset()
    ) -> list[RawJson]:
        """Every item of an ARM list (``value``, following ``nextLink``) as Azure's JSON; an ``absent`` status
        means the provider is not there, which is an empty list."""
        client = self._clients.plain()
        url: str | None = f"/subscriptions/{subscription_id}/providers/{path}"
        params: dict[str, str] | None = {"api-version": api_version}
        found: list[RawJson] = []
        with azure_errors():
            while url:
                response = await client.send_request(HttpRequest("GET", client.format_url(url), params=params))
                if response.status_code in absent:
                    return found
                response.raise_for_status()
                body = response.json()
                found.extend(item for item in body.get("value") or [] if isinstance(item, dict))
                url, params = body.get("nextLink"), None
        return found

    async def _get(self, path: str, api_version: str) -> RawJson:
        """One ARM resource as Azure's JSON."""
        client = self._clients.plain()
        with azure_errors():
            response = await client.send_request(
                HttpRequest("GET", client.format_url(path), params={"api-version": api_version})
            )
            response.raise_for_status()
            return dict(response.json())

    async def virtual_machines(self, subscription_id: str) -> list[RawJson]:
        """Every Resource Manager VM in the subscription."""
        return await self._list(subscription_id, "Microsoft.Compute/virtualMachines", COMPUTE_API_VERSION)

    async def classic_virtual_machines(self, subscription_id: str) -> list[RawJson]:
        """Every classic (ASM) VM; a subscription without the classic provider answers 400/404/409."""
        return await self._list(
            subscription_id, "Microsoft.ClassicCompute/virtualMachines", CLASSIC_API_VERSION, _CLASSIC_ABSENT
        )

    async def network_interfaces(self, subscription_id: str) -> list[RawJson]:
        """Every NIC in the subscription."""
        return await self._list(subscription_id, "Microsoft.Network/networkInterfaces", NETWORK_API_VERSION)

    async def public_ips(self, subscription_id: str) -> list[RawJson]:
        """Every public IP address resource in the subscription."""
        return await self._list(subscription_id, "Microsoft.Network/publicIPAddresses", NETWORK_API_VERSION)

    async def virtual_networks(self, subscription_id: str) -> list[RawJson]:
        """Every VNet (with its subnets and their NSGs) in the subscription."""
        return await self._list(subscription_id, "Microsoft.Network/virtualNetworks", NETWORK_API_VERSION)

    async def defender_for_servers(self, subscription_id: str) -> bool:
        """Whether the Defender for Servers plan (pricing ``VirtualMachines``) is on, which JIT requires."""
        pricing = await self._get(
            f"/subscriptions/{subscription_id}/providers/Microsoft.Security/pricings/{DEFENDER_FOR_SERVERS}",
            PRICING_API_VERSION,
        )
        tier = str((pricing.get("properties") or {}).get("pricingTier") or "")
        return tier.lower() == "standard"

    async def jit_policies(self, subscription_id: str) -> list[RawJson]:
        """Every JIT policy in the subscription, as Azure's JSON."""
        return await self._list(subscription_id, "Microsoft.Security/jitNetworkAccessPolicies", JIT_API_VERSION)

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
        return await self._get(nsg_id, NETWORK_API_VERSION)
