"""Microsoft Entra ID authentication for Azure Cache for Redis / Azure Managed Redis.

Each new Redis connection AUTHs with the identity's object id and a fresh access token for
``https://redis.azure.com/.default``. Azure closes connections whose token has expired, so the runtime
also recycles idle connections well before tokens expire (see ``ENTRA_RECYCLE_SECONDS``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from redis.credentials import CredentialProvider

REDIS_SCOPE = "https://redis.azure.com/.default"
REFRESH_MARGIN_SECONDS = 300
ENTRA_RECYCLE_SECONDS = 30 * 60


class EntraTokenError(ValueError):
    """The token has no object id to use as the Redis user name."""


def object_id(token: str) -> str:
    """The ``oid`` claim of a JWT access token: Azure Cache for Redis uses it as the user name."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise EntraTokenError("the Entra ID token is not a JWT") from exc
    oid = claims.get("oid") if isinstance(claims, dict) else None
    if not isinstance(oid, str) or not oid:
        raise EntraTokenError("the Entra ID token has no oid claim")
    return oid


class EntraIdCredentials(CredentialProvider):
    """A redis-py credential provider backed by an azure-identity aio credential, caching the token."""

    def __init__(self, credential: Any, *, scope: str = REDIS_SCOPE, now: Callable[[], float] = time.time):
        self.credential = credential
        self.scope = scope
        self._now = now
        self._token: str | None = None
        self._expires_on = 0.0

    def get_credentials(self) -> tuple[str, str]:
        """Synchronous clients are not supported: jitbot only uses redis.asyncio."""
        raise TypeError("EntraIdCredentials only works with redis.asyncio")

    async def get_credentials_async(self) -> tuple[str, str]:
        """(object id, access token), refreshing the token five minutes before it expires."""
        if self._token is None or self._now() > self._expires_on - REFRESH_MARGIN_SECONDS:
            access = await self.credential.get_token(self.scope)
            self._token, self._expires_on = access.token, float(access.expires_on)
        return object_id(self._token), self._token


def default_entra_credentials() -> EntraIdCredentials:
    """Credentials from DefaultAzureCredential (managed identity, workload identity, service principal…)."""
    from azure.identity.aio import DefaultAzureCredential

    return EntraIdCredentials(DefaultAzureCredential(exclude_interactive_browser_credential=True))
