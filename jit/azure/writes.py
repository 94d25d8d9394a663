"""ARM writes: JIT policy PUT/DELETE, one initiate attempt, and deleting an NSG rule.

Bodies are sent as the exact JSON bytes we built, so nothing is lost or reshaped by SDK models.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors, azure_message, response_json, status_error, translate
from jit.ports.azure_errors import AzureJitError
from jit.resource_ids import id_segments

RawJson = dict[str, Any]


def _raw(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    return response_json(pipeline_response.http_response)


@dataclass(frozen=True)
class InitiateFailure(Exception):
    """One initiate attempt failed; ``retry_after`` is Azure's requested wait in seconds, when it sent one."""

    error: AzureJitError
    retry_after: float | None = None


def _retry_after(exc: HttpResponseError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ArmWriter:
    """One method per ARM write the gateway makes."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    def _policies(self, policy_id: str) -> tuple[Any, dict[str, str]]:
        segments = id_segments(policy_id)
        return self._clients.security(segments["subscriptions"]).jit_network_access_policies, segments

    async def put_policy(self, policy_id: str, body: bytes) -> RawJson:
        """Create or replace a JIT policy with exactly ``body``."""
        operations, segments = self._policies(policy_id)
        with azure_errors():
            result = await operations.create_or_update(
                segments["resourcegroups"],
                segments["locations"],
                segments["jitnetworkaccesspolicies"],
                body,
                content_type="application/json",
                cls=_raw,
            )
        return dict(result)

    async def delete_policy(self, policy_id: str) -> None:
        """Delete a JIT policy (when its last VM leaves it)."""
        operations, segments = self._policies(policy_id)
        with azure_errors():
            await operations.delete(
                segments["resourcegroups"], segments["locations"], segments["jitnetworkaccesspolicies"]
            )

    async def initiate_once(self, policy_id: str, body: bytes) -> RawJson:
        """Exactly one POST …/initiate with the SDK's retries off; raises InitiateFailure on any failure."""
        operations, segments = self._policies(policy_id)
        seconds = self._clients.tuning.timeout.total_seconds()
        try:
            async with asyncio.timeout(seconds + 1):
                result = await operations.initiate(
                    segments["resourcegroups"],
                    segments["locations"],
                    segments["jitnetworkaccesspolicies"],
                    body,
                    content_type="application/json",
                    cls=_raw,
                    retry_total=0,
                )
        except HttpResponseError as exc:
            if exc.status_code is None:
                raise InitiateFailure(translate(exc) or status_error(500, azure_message(exc))) from exc
            raise InitiateFailure(status_error(int(exc.status_code), azure_message(exc)), _retry_after(exc)) from exc
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise InitiateFailure(mapped) from exc
        return dict(result) if isinstance(result, dict) else {}

    async def delete_security_rule(self, rule_id: str) -> None:
        """Delete one NSG rule and wait for ARM to finish."""
        segments = id_segments(rule_id)
        network = self._clients.network(segments["subscriptions"])
        with azure_errors():
            poller = await network.security_rules.begin_delete(
                segments["resourcegroups"], segments["networksecuritygroups"], segments["securityrules"]
            )
            await poller.result()
