"""Entra ID users from Microsoft Graph (``/v1.0/users``), through azure-core's pipeline on jitbot's own credential.

A person's Slack email is matched against both ``userPrincipalName`` and ``mail`` in one list call, so members
(UPN = email) and guests or people with a different UPN (mail = email) are both found. The application
permission this needs is ``User.Read.All`` (the least privileged one for listing users, per Microsoft Graph's
"List users" reference); ``User.ReadBasic.All`` cannot filter on ``mail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from azure.core.rest import HttpRequest

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors
from jit.ports.azure_errors import AzureNotFound

USER_FIELDS = "id,displayName,userPrincipalName,mail,accountEnabled"
GRAPH_PERMISSION = "User.Read.All"


@dataclass(frozen=True)
class EntraUser:
    """An Entra ID user: ``id`` is the object id Azure RBAC assigns roles to."""

    id: str
    user_principal_name: str
    display_name: str
    mail: str | None
    account_enabled: bool


def odata_string(value: str) -> str:
    """``value`` as an OData string literal (single quotes doubled), so an address like o'brien@… stays one literal."""
    return "'" + value.replace("'", "''") + "'"


def user_filter(email: str) -> str:
    """The ``$filter`` that finds the user whose UPN or primary mail is ``email``."""
    literal = odata_string(email)
    return f"userPrincipalName eq {literal} or mail eq {literal}"


class GraphUsers:
    """Looks people up in Entra ID; every call is one Graph request (callers cache)."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def find_by_email(self, email: str) -> list[EntraUser]:
        """Every user whose ``userPrincipalName`` or ``mail`` is ``email`` (normally one, none when unknown)."""
        body = await self._get("/v1.0/users", {"$filter": user_filter(email), "$select": USER_FIELDS})
        return [_user(item) for item in body.get("value") or [] if isinstance(item, dict) and item.get("id")]

    async def get(self, key: str) -> EntraUser | None:
        """The user whose object id or user principal name is ``key`` (``GET /v1.0/users/{id | userPrincipalName}``,
        for ``JITBOT_IDENTITY_MAP``); None when Entra ID has no such user."""
        try:
            body = await self._get(f"/v1.0/users/{quote(key, safe='@')}", {"$select": USER_FIELDS})
        except AzureNotFound:
            return None
        return _user(body) if body.get("id") else None

    async def probe(self) -> int:
        """One cheap read that needs ``User.Read.All`` (for `jitbot doctor`); returns how many users it saw."""
        body = await self._get("/v1.0/users", {"$top": "1", "$select": "id"})
        return len(body.get("value") or [])

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        client = self._clients.graph()
        with azure_errors():
            response = await client.send_request(HttpRequest("GET", client.format_url(path), params=params))
            response.raise_for_status()
            body = response.json()
        return body if isinstance(body, dict) else {}


def _user(raw: dict[str, Any]) -> EntraUser:
    return EntraUser(
        id=str(raw["id"]),
        user_principal_name=str(raw.get("userPrincipalName") or ""),
        display_name=str(raw.get("displayName") or ""),
        mail=str(raw["mail"]) if raw.get("mail") else None,
        account_enabled=raw.get("accountEnabled") is not False,
    )
