"""A loopback Microsoft Graph for jitbot's tests and sandbox: ``/v1.0/users`` over HTTPS, from an Entra ``Directory``.

Behaves like Graph where jitbot depends on it (Microsoft Graph v1.0 reference "List users" and "Get user",
microsoftgraph/microsoft-graph-docs-contrib api-reference/v1.0/api/user-list.md and user-get.md; error bodies
per concepts/errors.md): bearer tokens from the ARM emulator's managed identity endpoint, checked for Graph's
audience; the application permission ``User.Read.All`` (take it away with ``granted_permissions``) or a 403
``Authorization_RequestDenied``; ``$select``, ``$top`` and the ``$filter`` clauses jitbot sends
(``userPrincipalName``/``mail``/``id`` ``eq`` string literals joined by ``or``); OData error bodies. It serves under
the ARM emulator's certificate, so one CA file (``SSL_CERT_FILE``) trusts both.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from sandbox.arm_faults import ArmCall, FaultPlan
from sandbox.arm_identity import TokenIssuer
from sandbox.arm_tls import server_context
from sandbox.entra import Directory, EntraUser

PUBLIC_AUDIENCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")
USER_READ_ALL = "User.Read.All"
DEFAULT_FIELDS = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
FILTERABLE = {"userprincipalname": "userPrincipalName", "mail": "mail", "id": "id"}
_CLAUSE = re.compile(r"^\s*(?P<prop>\w+)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*$", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+(?=\w+\s+eq\s+')", re.IGNORECASE)


class GraphError(Exception):
    """A Graph error answer: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON Graph sends."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": str(uuid.uuid4()),
                },
            }
        }


def user_json(user: EntraUser, fields: tuple[str, ...]) -> dict[str, Any]:
    """A user resource with the asked-for properties (Graph's default set without ``$select``)."""
    given, _, surname = user.display_name.partition(" ")
    every: dict[str, Any] = {
        "id": user.id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": given or None,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": surname or None,
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": user.account_enabled,
    }
    return {name: every.get(name) for name in fields}


def parse_filter(text: str) -> list[tuple[str, str]]:
    """``(property, value)`` pairs of a ``prop eq 'value' or …`` filter; Graph's 400 for anything else."""
    pairs: list[tuple[str, str]] = []
    for clause in _OR.split(text.strip()):
        found = _CLAUSE.match(clause)
        if found is None or found["prop"].lower() not in FILTERABLE:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified.")
        pairs.append((FILTERABLE[found["prop"].lower()], found["value"].replace("''", "'")))
    return pairs


def _matches(user: EntraUser, pairs: list[tuple[str, str]]) -> bool:
    values = {"userPrincipalName": user.user_principal_name, "mail": user.mail or "", "id": user.id}
    return any(values[prop].lower() == value.lower() for prop, value in pairs)


class GraphEmulator:
    """The emulator: an HTTPS Graph endpoint in the current event loop; ``async with`` or ``start``/``stop``."""

    def __init__(self, directory: Directory, tokens: TokenIssuer):
        self.directory = directory
        self.tokens = tokens
        self.granted_permissions: set[str] = {USER_READ_ALL}
        self.calls: list[ArmCall] = []
        self.faults = FaultPlan()
        self._runner: web.AppRunner | None = None
        self._url = ""

    @property
    def url(self) -> str:
        """Graph base URL (``https://127.0.0.1:<port>``), for ``MICROSOFT_GRAPH_ENDPOINT``."""
        if not self._url:
            raise RuntimeError("the Graph emulator is not started")
        return self._url

    async def start(self, cert: Path, key: Path, host: str = "127.0.0.1", port: int = 0) -> GraphEmulator:
        """Listen on ``port`` (0: a free one) with the given certificate."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=server_context(cert, key))
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        self._url = f"https://{shown}:{bound}"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> GraphEmulator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def reset_calls(self) -> None:
        """Forget the call log."""
        self.calls.clear()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        at = datetime.now(UTC)
        query = {k: v for k, v in request.query.items()}
        operation = "unknown"
        try:
            operation, handler = self._route(request.method, request.path)
            self._authorise(request.headers.get("Authorization"))
            fault = self.faults.take(operation)
            if fault is not None and fault.status is not None:
                raise GraphError(fault.status, _FAULT_CODES.get(fault.status, "UnknownError"), "Injected failure.")
            status, body = 200, handler(request.path, query)
        except GraphError as error:
            status, body = error.status, error.body()
        self.calls.append(ArmCall(request.method, request.path, query, operation, status, False, None, at))
        return web.json_response(body, status=status, headers={"request-id": str(uuid.uuid4())})

    def _route(self, method: str, path: str) -> tuple[str, Any]:
        parts = [part for part in path.split("/") if part]
        if len(parts) < 2 or parts[0] != "v1.0" or parts[1].lower() != "users":
            segment = parts[1] if len(parts) > 1 else (parts[0] if parts else "")
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        if method != "GET":
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        if len(parts) == 2:
            return "graph.users.list", self._list_users
        if len(parts) == 3:
            return "graph.users.get", self._get_user
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[3]}'.")

    def _authorise(self, authorization: str | None) -> None:
        if not authorization:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        issued = self.tokens.live_token(authorization)
        if issued is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
        audiences = {a.lower() for a in (*PUBLIC_AUDIENCES, self._url)}
        if issued.resource.rstrip("/").lower() not in audiences:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if USER_READ_ALL not in self.granted_permissions:
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    def _fields(self, query: dict[str, str]) -> tuple[str, ...]:
        raw = query.get("$select", "")
        return tuple(part.strip() for part in raw.split(",") if part.strip()) or DEFAULT_FIELDS

    def _context(self, fields: tuple[str, ...], single: bool) -> str:
        shape = f"users({','.join(fields)})" if fields != DEFAULT_FIELDS else "users"
        return f"https://graph.microsoft.com/v1.0/$metadata#{shape}{'/$entity' if single else ''}"

    def _list_users(self, _path: str, query: dict[str, str]) -> dict[str, Any]:
        users = list(self.directory.users)
        if query.get("$filter"):
            pairs = parse_filter(query["$filter"])
            users = [u for u in users if _matches(u, pairs)]
        top = query.get("$top", "")
        if top:
            if not top.isdigit() or not 1 <= int(top) <= 999:
                raise GraphError(400, "Request_BadRequest", f"Invalid page size specified: '{top}'.")
            users = users[: int(top)]
        fields = self._fields(query)
        return {"@odata.context": self._context(fields, False), "value": [user_json(u, fields) for u in users]}

    def _get_user(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        key = path.rstrip("/").split("/")[-1]
        user = self.directory.user(key)
        if user is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
            )
        fields = self._fields(query)
        return {"@odata.context": self._context(fields, True), **user_json(user, fields)}


_FAULT_CODES = {
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceNotAvailable",
    504: "GatewayTimeout",
}
