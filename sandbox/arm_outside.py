"""Someone else in Azure: a person using the portal or ``az security jit-policy`` against the ARM emulator.

jitbot is not the only writer of JIT objects. This client makes the same REST calls the portal and the CLI make
(``initiate`` on a policy, a GET-modify-PUT of a policy document), over HTTPS with a bearer token issued for a
person, so Azure records that person as ``requestor`` — exactly what jitbot sees of a colleague acting outside it.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import aiohttp

from sandbox.arm import ArmEmulator
from sandbox.arm_jit import azure_time

JIT_API_VERSION = "2020-01-01"


class OutsideWriteFailed(RuntimeError):
    """Azure refused the person's call; ``status`` and ``body`` are ARM's answer."""

    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body
        super().__init__(f"ARM answered {status}: {body}")


@dataclass(frozen=True)
class OpenPort:
    """One port to open from the portal: its number, the source and the end of the window."""

    number: int
    source: str
    end: datetime


class PortalUser:
    """A person acting on the emulator's JIT policies directly; ``async with PortalUser(arm, "carol@…")``."""

    def __init__(self, arm: ArmEmulator, principal: str):
        self.arm = arm
        self.principal = principal
        self._token = arm.tokens.issue_for_person(principal)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PortalUser:
        trust = ssl.create_default_context(cafile=str(self.arm.ca_file))
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def policy_covering(self, vm_id: str) -> dict[str, Any]:
        """The policy document whose VM list names ``vm_id``, as the portal reads it."""
        subscription = vm_id.split("/")[2]
        listed = await self._call(
            "GET", f"/subscriptions/{subscription}/providers/Microsoft.Security/jitNetworkAccessPolicies"
        )
        for policy in listed["value"]:
            entries = policy.get("properties", {}).get("virtualMachines", [])
            if any(str(entry.get("id", "")).lower() == vm_id.lower() for entry in entries):
                return dict(policy)
        raise LookupError(f"no JIT policy covers {vm_id}")

    async def initiate(self, vm_id: str, ports: Sequence[OpenPort], justification: str = "") -> dict[str, Any]:
        """Request access like the portal's "Request access" button: one initiate on the VM's policy."""
        policy = await self.policy_covering(vm_id)
        body: dict[str, Any] = {
            "virtualMachines": [
                {
                    "id": vm_id,
                    "ports": [
                        {"number": p.number, "allowedSourceAddressPrefix": p.source, "endTimeUtc": azure_time(p.end)}
                        for p in ports
                    ],
                }
            ]
        }
        if justification:
            body["justification"] = justification
        return await self._call("POST", f"{policy['id']}/initiate", body)

    async def get_policy(self, policy_id: str) -> dict[str, Any]:
        """The policy document at ``policy_id``."""
        return await self._call("GET", policy_id)

    async def put_policy(self, policy_id: str, virtual_machines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Replace the policy's VM list, as the portal's Save does."""
        return await self._call(
            "PUT", policy_id, {"kind": "Basic", "properties": {"virtualMachines": list(virtual_machines)}}
        )

    async def add_vm(self, policy_id: str, vm_id: str, ports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Read the policy, add (or replace) one VM's entry, write it back: the portal's read-modify-write."""
        current = await self.get_policy(policy_id)
        entries = [
            entry
            for entry in current.get("properties", {}).get("virtualMachines", [])
            if str(entry.get("id", "")).lower() != vm_id.lower()
        ]
        return await self.put_policy(policy_id, [*entries, {"id": vm_id, "ports": list(ports)}])

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("use PortalUser as an async context manager")
        url = f"{self.arm.url}{path}?api-version={JIT_API_VERSION}"
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body)
        async with self._session.request(method, url, data=data, headers=headers) as response:
            text = await response.text()
            answer = json.loads(text) if text.strip() else None
            if response.status >= 400:
                raise OutsideWriteFailed(response.status, answer)
            return answer if isinstance(answer, dict) else {}
