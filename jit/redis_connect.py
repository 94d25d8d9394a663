"""Open Redis from ``REDIS_URL``: ``redis://``, ``rediss://`` (TLS) or ``redis+sentinel://``.

Timeouts are short on purpose: when Redis is down, a Slack command must still get a "temporarily unavailable"
reply inside Slack's 3 seconds rather than hang.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel
from redis.credentials import CredentialProvider

SOCKET_TIMEOUT = 1.0
CONNECT_TIMEOUT = 0.5
# A burst of commands runs more Redis calls at once than a pool holds; they wait for a connection instead of
# failing (redis-py's default pool raises "Too many connections" past 100), but not past Slack's deadline.
POOL_SIZE = 64
POOL_WAIT = 2.0


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


def connect_redis(
    url: str, *, socket_timeout: float = SOCKET_TIMEOUT, credential_provider: CredentialProvider | None = None
) -> aioredis.Redis:
    """A client for ``url``; Sentinel URLs look like ``redis+sentinel://[:pw@]h1:26379,h2:26379/master/0``.

    ``credential_provider`` replaces the URL's password (Entra ID tokens for Azure Cache for Redis).
    """
    parts = urlsplit(url)
    common: dict[str, object] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "health_check_interval": 15,
        "retry_on_timeout": False,
    }
    if credential_provider is not None:
        common["credential_provider"] = credential_provider
    if parts.scheme in ("redis", "rediss", "unix"):
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=POOL_WAIT, **common)
        return aioredis.Redis.from_pool(pool)
    if parts.scheme not in ("redis+sentinel", "rediss+sentinel"):
        raise RedisUrlError(f"REDIS_URL scheme {parts.scheme!r} is not redis://, rediss:// or redis+sentinel://")
    hosts: list[tuple[str, int]] = []
    for item in (parts.netloc.rpartition("@")[2]).split(","):
        host, _, port = item.partition(":")
        if not host:
            raise RedisUrlError("REDIS_URL sentinel list is empty")
        hosts.append((host, int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise RedisUrlError("REDIS_URL for Sentinel must name the master: redis+sentinel://host:26379/mymaster/0")
    service = path[0]
    db = int(path[1]) if len(path) > 1 else 0
    password = unquote(parts.password) if parts.password and credential_provider is None else None
    ssl = parts.scheme.startswith("rediss")
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        hosts,
        sentinel_kwargs={"password": password, "ssl": ssl, "socket_timeout": socket_timeout},
        password=password,
        ssl=ssl,
        db=db,
        **common,
    )
    master: SentinelManagedRedis = sentinel.master_for(service, redis_class=SentinelManagedRedis)
    master.sentinel_group = sentinel
    return master
