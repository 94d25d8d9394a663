"""Entra ID authentication to Redis: a real redis-server whose ACL user is the token's object id."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from bot.doctor import redis_checks
from jit.azure.redis_auth import REDIS_SCOPE, EntraIdCredentials, EntraTokenError, object_id
from jit.checks import Verdict
from jit.redis_connect import connect_redis
from sandbox.redis_server import RedisServer

OID = "6f0b3c1e-1111-4a2b-9c3d-abcdefabcdef"


def _jwt(claims: dict[str, object]) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@dataclass
class _Token:
    token: str
    expires_on: int


class TokenSource:
    """Hands out tokens like an azure-identity credential: records scopes, can rotate the token."""

    def __init__(self, token: str, expires_on: int):
        self.token = token
        self.expires_on = expires_on
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str) -> _Token:
        self.scopes.extend(scopes)
        return _Token(self.token, self.expires_on)


@pytest.fixture
def acl_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def _allow(server: RedisServer, user: str, password: str) -> None:
    admin = aioredis.Redis.from_url(server.url)
    await admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all")  # type: ignore[no-untyped-call]
    await admin.execute_command("ACL", "SETUSER", "default", "off")  # type: ignore[no-untyped-call]
    await admin.aclose()


async def test_connects_as_the_object_id_with_the_token(acl_redis: RedisServer) -> None:
    token = _jwt({"oid": OID})
    await _allow(acl_redis, OID, token)
    source = TokenSource(token, expires_on=2_000_000_000)
    client = connect_redis(acl_redis.url, credential_provider=EntraIdCredentials(source))

    assert await client.ping()
    assert await client.execute_command("ACL", "WHOAMI") in (OID, OID.encode())
    assert source.scopes == [REDIS_SCOPE]
    await client.aclose()


async def test_a_wrong_token_is_refused(acl_redis: RedisServer) -> None:
    await _allow(acl_redis, OID, _jwt({"oid": OID}))
    client = connect_redis(
        acl_redis.url, credential_provider=EntraIdCredentials(TokenSource(_jwt({"oid": OID, "x": 1}), 2_000_000_000))
    )
    with pytest.raises(redis.exceptions.AuthenticationError):
        await client.ping()
    await client.aclose()


async def test_token_is_cached_until_five_minutes_before_expiry() -> None:
    clock = [1_000.0]
    source = TokenSource(_jwt({"oid": OID}), expires_on=1_000 + 3600)
    credentials = EntraIdCredentials(source, now=lambda: clock[0])

    await credentials.get_credentials_async()
    await credentials.get_credentials_async()
    assert len(source.scopes) == 1
    clock[0] += 3600 - 299
    await credentials.get_credentials_async()
    assert len(source.scopes) == 2


def test_object_id_requires_an_oid_claim() -> None:
    assert object_id(_jwt({"oid": OID})) == OID
    with pytest.raises(EntraTokenError):
        object_id(_jwt({"sub": "x"}))
    with pytest.raises(EntraTokenError):
        object_id("not-a-jwt")


async def test_doctor_signs_in_to_redis_the_way_the_bot_does(acl_redis: RedisServer) -> None:
    token = _jwt({"oid": OID})
    await _allow(acl_redis, OID, token)
    credentials = EntraIdCredentials(TokenSource(token, expires_on=2_000_000_000))

    without = await redis_checks(acl_redis.url)
    signed_in = await redis_checks(acl_redis.url, credentials)

    assert [c.verdict for c in without if c.name == "reachable"] == [Verdict.FAIL]
    assert [c.verdict for c in signed_in if c.name == "reachable"] == [Verdict.PASS]
