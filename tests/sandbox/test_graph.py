"""The Graph emulator: users by filter and by key, $select, tokens for Graph's audience only, User.Read.All, and
Graph's error bodies; driven over HTTPS with tokens from the real managed identity credential."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from azure.identity.aio import ManagedIdentityCredential

from sandbox.arm import ArmEmulator
from sandbox.arm_demo import demo_inventory
from sandbox.graph import GraphEmulator
from tests.sandbox.arm_support import OTHER_CREDENTIAL_VARIABLES


class Graph:
    def __init__(self, emulator: GraphEmulator, arm: ArmEmulator, token: str):
        self.emulator = emulator
        self.arm = arm
        self.token = token

    async def get(self, path: str, params: dict[str, str] | None = None, token: str | None = None) -> tuple[int, Any]:
        context = ssl.create_default_context(cafile=str(self.arm.ca_file))
        headers = {"Authorization": f"Bearer {token if token is not None else self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.emulator.url + path, params=params, headers=headers, ssl=context) as response,
        ):
            return response.status, json.loads(await response.text())


@pytest.fixture
async def graph(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Graph]:
    for name in OTHER_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    async with ArmEmulator(demo_inventory()) as arm:
        emulator = await GraphEmulator(arm.inventory.directory, arm.tokens).start(arm.ca_file, arm.key_file)
        env = arm.environment()
        monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
        async with ManagedIdentityCredential() as credential:
            token = (await credential.get_token("https://graph.microsoft.com/.default")).token
            yield Graph(emulator, arm, token)
        await emulator.stop()


async def test_users_by_upn_or_mail_with_select(graph: Graph) -> None:
    params = {
        "$filter": "userPrincipalName eq 'ALICE@contoso.com' or mail eq 'ALICE@contoso.com'",
        "$select": "id,userPrincipalName,accountEnabled",
    }
    status, body = await graph.get("/v1.0/users", params)
    assert status == 200
    assert body["@odata.context"].endswith("#users(id,userPrincipalName,accountEnabled)")
    assert [set(u) for u in body["value"]] == [{"id", "userPrincipalName", "accountEnabled"}]
    assert body["value"][0]["userPrincipalName"] == "alice@contoso.com"


async def test_string_literals_unescape_doubled_quotes(graph: Graph) -> None:
    status, body = await graph.get("/v1.0/users", {"$filter": "mail eq 'o''brien@contoso.com'"})
    assert status == 200 and body["value"] == []


async def test_get_user_by_upn_and_unknown_user(graph: Graph) -> None:
    status, body = await graph.get("/v1.0/users/dave@contoso.com")
    assert status == 200 and body["displayName"] == "Dave Admin"
    status, body = await graph.get("/v1.0/users/nobody@contoso.com")
    assert status == 404 and body["error"]["code"] == "Request_ResourceNotFound"
    assert "request-id" in body["error"]["innerError"]


async def test_unsupported_filter_is_a_400(graph: Graph) -> None:
    status, body = await graph.get("/v1.0/users", {"$filter": "startswith(displayName,'a')"})
    assert status == 400 and body["error"]["code"] == "Request_UnsupportedQuery"


async def test_an_arm_token_is_refused_and_so_is_a_missing_permission(graph: Graph) -> None:
    async with ManagedIdentityCredential() as credential:
        arm_token = (await credential.get_token("https://management.azure.com/.default")).token
    status, body = await graph.get("/v1.0/users", token=arm_token)
    assert status == 401 and "audience" in body["error"]["message"]
    status, body = await graph.get("/v1.0/users", token="")
    assert status == 401
    graph.emulator.granted_permissions.clear()
    status, body = await graph.get("/v1.0/users")
    assert status == 403 and body["error"]["code"] == "Authorization_RequestDenied"
