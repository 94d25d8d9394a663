"""Open Redis from ``REDIS_URL``: ``redis://``, ``rediss://`` (TLS), ``redis+sentinel://`` or ``redis+cluster://``.

Timeouts are short on purpose: when Redis is down, a Slack command must still get a "temporarily unavailable"
reply inside Slack's 3 seconds rather than hang.
"""

from __future__ import annotations

from typing import TypeAlias
from urllib.parse import unquote, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

SOCKET_TIMEOUT = 1.0
CONNECT_TIMEOUT = 0.5
HEALTH_CHECK_INTERVAL = 15
# A burst of commands runs more Redis calls at once than a pool holds; they wait for a connection instead of
# failing (redis-py's default pool raises "Too many connections" past 100), but not past Slack's deadline.
POOL_SIZE = 64
POOL_WAIT = 2.0
# A cluster client cannot wait for a free connection; past this many per node a command fails at once.
CLUSTER_CONNECTIONS_PER_NODE = 2 * POOL_SIZE

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
"""What jitbot's Redis code accepts: one server (plain, TLS or Sentinel-managed) or a Redis Cluster."""


class RedisUrlError(ValueError):
    """A REDIS_URL that cannot be used, with the reason."""


class SentinelManagedRedis(aioredis.Redis):
    """The master's client that also closes its connections to the Sentinels when it is closed."""

    sentinel_group: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the master connections, then the Sentinel ones."""
        await super().aclose(close_connection_pool)
        for client in self.sentinel_group.sentinels if self.sentinel_group else ():
            await client.aclose()


class JitbotCluster(RedisCluster):
    """A cluster client whose "no node reachable" is a ConnectionError, as with one server.

    redis-py raises RedisClusterException (not a RedisError) when no startup node answers; callers that reply
    "temporarily unavailable" on RedisError then need no cluster-specific case.
    """

    async def initialize(
        self,
        additional_startup_nodes_info: list[tuple[str, int]] | None = None,
        last_failed_node_name: str | None = None,
    ) -> RedisCluster:
        """Discover the nodes and slots; an unreachable or incomplete cluster is a connection error."""
        try:
            return await super().initialize(additional_startup_nodes_info, last_failed_node_name)
        except RedisClusterException as exc:
            raise RedisConnectionError(f"Redis Cluster unavailable: {exc}") from exc


async def drop_idle_connections(client: RedisClient) -> None:
    """Close idle connections (every node's, on a cluster) so the next ones authenticate afresh."""
    if isinstance(client, RedisCluster):
        for node in client.get_nodes():
            await node.disconnect_free_connections()
    else:
        await client.connection_pool.disconnect(inuse_connections=False)


def connect_redis(
    url: str, *, socket_timeout: float = SOCKET_TIMEOUT, credential_provider: CredentialProvider | None = None
) -> RedisClient:
    """A client for ``url``; Sentinel URLs look like ``redis+sentinel://[:pw@]h1:26379,h2:26379/master/0``,
    Cluster URLs like ``redis+cluster://[:pw@]h1:6379,h2:6379/`` (any reachable nodes; the rest are discovered).

    ``credential_provider`` replaces the URL's password (Entra ID tokens for Azure Cache for Redis).
    """
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss", "unix"):
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT,
            retry_on_timeout=False,
            socket_timeout=socket_timeout,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            credential_provider=credential_provider,
        )
        return aioredis.Redis.from_pool(pool)
    if parts.scheme in ("redis+cluster", "rediss+cluster"):
        return _connect_cluster(url, socket_timeout, credential_provider)
    if parts.scheme not in ("redis+sentinel", "rediss+sentinel"):
        raise RedisUrlError(
            f"REDIS_URL scheme {parts.scheme!r} is not redis://, rediss://, redis+sentinel:// or redis+cluster://"
        )
    hosts = [(host, int(port or 26379)) for host, port in _host_list(parts.netloc, "sentinel")]
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise RedisUrlError("REDIS_URL for Sentinel must name the master: redis+sentinel://host:26379/mymaster/0")
    service = path[0]
    db = int(path[1]) if len(path) > 1 else 0
    password = unquote(parts.password) if parts.password and credential_provider is None else None
    ssl = parts.scheme.startswith("rediss")
    sentinel = Sentinel(
        hosts,
        sentinel_kwargs={"password": password, "ssl": ssl, "socket_timeout": socket_timeout},
        password=password,
        ssl=ssl,
        db=db,
        retry_on_timeout=False,
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        credential_provider=credential_provider,
    )
    master: SentinelManagedRedis = sentinel.master_for(service, redis_class=SentinelManagedRedis)
    master.sentinel_group = sentinel
    return master


def _host_list(netloc: str, what: str) -> list[tuple[str, str]]:
    """``[user:pw@]h1:p1,h2,[::1]:p3`` -> ``[(host, port or "")]``."""
    hosts: list[tuple[str, str]] = []
    for item in netloc.rpartition("@")[2].split(","):
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        if not host:
            raise RedisUrlError(f"REDIS_URL {what} list is empty")
        if port and not port.isdigit():
            raise RedisUrlError(f"REDIS_URL {what} {item!r} has a port that is not a number")
        hosts.append((host, port))
    return hosts


def _connect_cluster(url: str, socket_timeout: float, credential_provider: CredentialProvider | None) -> RedisCluster:
    """A cluster client seeded with every listed node; TLS, credentials and query options as for one server.

    It retries a command once after re-reading the topology (a fail-over), not more: Slack's 3 seconds.
    """
    parts = urlsplit(url)
    nodes = [(host, int(port or 6379)) for host, port in _host_list(parts.netloc, "cluster node")]
    if [p for p in parts.path.split("/") if p] not in ([], ["0"]):
        raise RedisUrlError("Redis Cluster has only database 0: use redis+cluster://host:6379,host2:6379/")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    first = hostlist.split(",")[0]
    netloc = f"{userinfo}@{first}" if userinfo and credential_provider is None else first
    scheme = "rediss" if parts.scheme.startswith("rediss") else "redis"
    return JitbotCluster.from_url(
        urlunsplit((scheme, netloc, "", parts.query, "")),
        startup_nodes=[ClusterNode(host, port) for host, port in nodes[1:]],
        max_connections=CLUSTER_CONNECTIONS_PER_NODE,
        retry=Retry(NoBackoff(), 1),
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        credential_provider=credential_provider,
    )
