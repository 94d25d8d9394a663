"""The ARM reads behind a VM's security context, each returning Azure's JSON exactly as sent (no caching here).

- Defender for Cloud assessments on the VM: ``GET {vmId}/providers/Microsoft.Security/assessments`` (2021-06-01).
  The list has no ``$expand``, so an unhealthy assessment's severity comes from
  ``GET {vmId}/providers/Microsoft.Security/assessments/{key}?$expand=metadata``.
- Security alerts: ``GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/alerts``
  (2022-01-01); Defender stores an alert in the resource group of the resource it is about.
- The VM's instance view: ``GET {vmId}/instanceView`` (compute 2024-07-01), for its power state.

The api-versions are the ones azure-mgmt-security 7.0.0 uses for these operation groups and the compute version the
other reads use. Plain GETs through the shared ARM pipeline (credential, retries, transport), like ``reads.py``.
"""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors
from jit.azure.reads import COMPUTE_API_VERSION

RawJson = dict[str, Any]
ASSESSMENTS_API_VERSION = "2021-06-01"
ALERTS_API_VERSION = "2022-01-01"


class SecurityReader:
    """One method per ARM read of the security context; SDK failures become ``jit.azure.errors`` types."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def _items(self, path: str, api_version: str) -> list[RawJson]:
        """Every item of an ARM list at ``path`` (``value``, following ``nextLink``)."""
        client = self._clients.plain()
        url: str | None = path
        params: dict[str, str] | None = {"api-version": api_version}
        found: list[RawJson] = []
        with azure_errors():
            while url:
                response = await client.send_request(HttpRequest("GET", client.format_url(url), params=params))
                response.raise_for_status()
                body = response.json()
                found.extend(item for item in body.get("value") or [] if isinstance(item, dict))
                url, params = body.get("nextLink"), None
        return found

    async def _one(self, path: str, params: dict[str, str]) -> RawJson:
        client = self._clients.plain()
        with azure_errors():
            response = await client.send_request(HttpRequest("GET", client.format_url(path), params=params))
            response.raise_for_status()
            body = response.json()
        return body if isinstance(body, dict) else {}

    async def assessments(self, vm_id: str) -> list[RawJson]:
        """Every Defender for Cloud assessment on the VM (healthy, unhealthy and not applicable)."""
        return await self._items(f"{vm_id}/providers/Microsoft.Security/assessments", ASSESSMENTS_API_VERSION)

    async def assessment_with_metadata(self, vm_id: str, key: str) -> RawJson:
        """One assessment on the VM with its type's metadata (which holds the severity)."""
        return await self._one(
            f"{vm_id}/providers/Microsoft.Security/assessments/{key}",
            {"api-version": ASSESSMENTS_API_VERSION, "$expand": "metadata"},
        )

    async def alerts(self, subscription_id: str, resource_group: str) -> list[RawJson]:
        """Every security alert stored in the resource group, whatever its status."""
        return await self._items(
            f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Security/alerts",
            ALERTS_API_VERSION,
        )

    async def instance_view(self, vm_id: str) -> RawJson:
        """The VM's instance view: provisioning and power state, and what its guest agent reports."""
        return await self._one(f"{vm_id}/instanceView", {"api-version": COMPUTE_API_VERSION})
