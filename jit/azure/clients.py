"""The Azure SDK clients jitbot uses, per subscription, sharing one credential, one HTTP session and one
retry policy.

The retry policy caps ``Retry-After`` so a throttled read cannot hold a Slack interaction for minutes, and
the per-call timeout comes from settings so a hung ARM call fails instead of hanging the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from azure.core import AsyncPipelineClient
from azure.core.pipeline import policies
from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy, AsyncRetryPolicy
from azure.core.pipeline.transport import AioHttpTransport
from azure.mgmt.core import AsyncARMPipelineClient
from azure.mgmt.core.policies import ARMHttpLoggingPolicy, AsyncARMChallengeAuthenticationPolicy
from azure.mgmt.resourcegraph.aio import ResourceGraphClient
from azure.mgmt.security.aio import SecurityCenter

PUBLIC_ARM_AUDIENCE = "https://management.azure.com"
PUBLIC_GRAPH_ENDPOINT = "https://graph.microsoft.com"
_CLOUD_AUDIENCES = {
    "management.azure.com": PUBLIC_ARM_AUDIENCE,
    "management.usgovcloudapi.net": "https://management.usgovcloudapi.net",
    "management.chinacloudapi.cn": "https://management.chinacloudapi.cn",
}


def arm_scope(endpoint: str) -> str:
    """The token scope for an ARM endpoint.

    ARM accepts tokens for its cloud's audience, not for whatever host serves it: regional endpoints
    (``westeurope.management.azure.com``), private-link proxies and local emulators all take the public
    ``https://management.azure.com`` audience; sovereign clouds take their own.
    """
    host = (urlparse(endpoint).hostname or "").lower()
    for domain, audience in _CLOUD_AUDIENCES.items():
        if host == domain or host.endswith("." + domain):
            return f"{audience}/.default"
    return f"{PUBLIC_ARM_AUDIENCE}/.default"


@dataclass(frozen=True)
class GatewayTuning:
    """Knobs for caching, timeouts and retries; the defaults suit production, tests shrink them."""

    cache_ttl: timedelta = timedelta(seconds=60)
    refresh_on_miss_after: timedelta = timedelta(seconds=10)
    group_refresh: timedelta = timedelta(minutes=5)
    inventory_ttl: timedelta = timedelta(minutes=10)
    timeout: timedelta = timedelta(seconds=20)
    read_retries: int = 3
    retry_backoff: float = 0.5
    retry_backoff_max: float = 8.0
    max_retry_after: float = 10.0
    initiate_attempts: int = 3
    lro_polling_interval: float = 2.0
    subscriptions_at_once: int = 32


class CappedRetryPolicy(AsyncRetryPolicy):  # type: ignore[misc]
    """azure-core's retry policy, but never waiting longer than ``max_retry_after`` for a ``Retry-After``."""

    def __init__(self, max_retry_after: float, **kwargs: Any):
        super().__init__(**kwargs)
        self._max_retry_after = max_retry_after

    def get_retry_after(self, response: Any) -> float | None:
        """Azure's requested wait, capped."""
        value = super().get_retry_after(response)
        return None if value is None else min(float(value), self._max_retry_after)


class ArmClients:
    """Lazily built aio clients for each subscription; ``close`` releases all of them and the HTTP session."""

    def __init__(
        self,
        credential: Any,
        endpoint: str,
        tuning: GatewayTuning,
        connection_verify: str | None = None,
        graph_endpoint: str = PUBLIC_GRAPH_ENDPOINT,
    ):
        self.endpoint = endpoint.rstrip("/")
        self.graph_endpoint = graph_endpoint.rstrip("/")
        self.tuning = tuning
        self._credential = credential
        seconds = tuning.timeout.total_seconds()
        transport_options: dict[str, Any] = {"connection_timeout": seconds, "read_timeout": seconds}
        if connection_verify is not None:
            transport_options["connection_verify"] = connection_verify
        self._transport = AioHttpTransport(**transport_options)
        self._security: dict[str, Any] = {}
        self._network: dict[str, Any] = {}
        self._plain: AsyncARMPipelineClient | None = None
        self._graph: AsyncPipelineClient[Any, Any] | None = None
        self._resource_graph: ResourceGraphClient | None = None

    @property
    def credential(self) -> Any:
        """The shared azure-identity credential (for `jitbot doctor`'s token check)."""
        return self._credential

    @property
    def credential_scopes(self) -> list[str]:
        """The token scope for this ARM endpoint (``https://management.azure.com/.default`` in public Azure)."""
        return [arm_scope(self.endpoint)]

    def _retry_policy(self) -> CappedRetryPolicy:
        """A retry policy for one pipeline. Never share one between pipelines: a policy links to the next policy
        of the pipeline it was last built into, so a shared one sends every client's requests down one chain."""
        return CappedRetryPolicy(
            self.tuning.max_retry_after,
            retry_total=self.tuning.read_retries,
            retry_backoff_factor=self.tuning.retry_backoff,
            retry_backoff_max=self.tuning.retry_backoff_max,
        )

    def _options(self) -> dict[str, Any]:
        return {
            "base_url": self.endpoint,
            "credential_scopes": self.credential_scopes,
            "transport": self._transport,
            "retry_policy": self._retry_policy(),
            "polling_interval": self.tuning.lro_polling_interval,
        }

    def security(self, subscription_id: str) -> Any:
        """Defender for Cloud for one subscription (JIT policy writes and single-policy reads)."""
        if subscription_id not in self._security:
            self._security[subscription_id] = SecurityCenter(self._credential, subscription_id, **self._options())
        return self._security[subscription_id]

    def resource_graph(self) -> ResourceGraphClient:
        """Azure Resource Graph (one query over many subscriptions), on the same credential, retries and session."""
        if self._resource_graph is None:
            self._resource_graph = ResourceGraphClient(self._credential, **self._options())
        return self._resource_graph

    def plain(self) -> AsyncARMPipelineClient:
        """A client for plain ARM requests (``send_request``): same credential, retries and transport.

        The compute and network SDKs add about 60 MB to the process for the few list calls we make, so those
        reads are plain GETs of Azure's JSON through this pipeline instead; so are the JIT policy lists and the
        Defender plan, read for every subscription, which would otherwise keep a ``SecurityCenter`` client (about
        30 KB) per subscription.
        """
        if self._plain is None:
            self._plain = AsyncARMPipelineClient(
                base_url=self.endpoint,
                policies=[
                    policies.RequestIdPolicy(),
                    policies.HeadersPolicy(),
                    policies.UserAgentPolicy(sdk_moniker="jitbot"),
                    policies.ContentDecodePolicy(),
                    policies.AsyncRedirectPolicy(),
                    self._retry_policy(),
                    AsyncARMChallengeAuthenticationPolicy(self._credential, *self.credential_scopes),
                    policies.NetworkTraceLoggingPolicy(),
                    ARMHttpLoggingPolicy(),
                ],
                transport=self._transport,
            )
        return self._plain

    @property
    def graph_scopes(self) -> list[str]:
        """The token scope for Microsoft Graph: ``<MICROSOFT_GRAPH_ENDPOINT>/.default``."""
        return [f"{self.graph_endpoint}/.default"]

    def graph(self) -> AsyncPipelineClient[Any, Any]:
        """A client for Microsoft Graph on the same credential and HTTP session as the ARM clients.

        Its retry policy is its own instance: a pipeline links its policies to each other, so one shared with the
        ARM pipelines would send ARM requests on through Graph's token policy (a Graph token to ARM).
        """
        if self._graph is None:
            self._graph = AsyncPipelineClient(
                base_url=self.graph_endpoint,
                policies=[
                    policies.RequestIdPolicy(),
                    policies.HeadersPolicy(),
                    policies.UserAgentPolicy(sdk_moniker="jitbot"),
                    policies.ContentDecodePolicy(),
                    policies.AsyncRedirectPolicy(),
                    self._retry_policy(),
                    AsyncBearerTokenCredentialPolicy(self._credential, *self.graph_scopes),
                    policies.NetworkTraceLoggingPolicy(),
                    policies.HttpLoggingPolicy(),
                ],
                transport=self._transport,
            )
        return self._graph

    def network(self, subscription_id: str) -> Any:
        """Network (NSG rule deletion) for one subscription (imported on first use: the SDK is large)."""
        from azure.mgmt.network.aio import NetworkManagementClient

        if subscription_id not in self._network:
            self._network[subscription_id] = NetworkManagementClient(
                self._credential, subscription_id, **self._options()
            )
        return self._network[subscription_id]

    async def close(self) -> None:
        """Close every client and the shared HTTP session."""
        clients = [*self._security.values(), *self._network.values()]
        if self._plain is not None:
            clients.append(self._plain)
            self._plain = None
        if self._graph is not None:
            clients.append(self._graph)
            self._graph = None
        if self._resource_graph is not None:
            clients.append(self._resource_graph)
            self._resource_graph = None
        self._security.clear()
        self._network.clear()
        for client in clients:
            await client.close()
        await self._transport.close()
