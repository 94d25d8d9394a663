"""A loopback Azure Resource Manager for jitbot's tests and sandbox: real SDK clients talk to it over HTTPS.

It serves the JIT, compute, network, pricing, Resource Graph and Microsoft.Security/locations operations jitbot uses,
from an in-memory :class:`~sandbox.arm_inventory.Inventory`, with Azure's authentication (an App Service-style managed
identity endpoint issuing the bearer tokens ARM requires), validation, paging and error shapes. Every call is
recorded, and faults (429 + Retry-After, 5xx, latency, "failed after commit") can be injected per operation.

``python -m sandbox.arm [--port N]`` runs it with the demo inventory until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import signal
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from jit.clock import Clock, SystemClock
from sandbox.arm_errors import ArmError, bad_request, injected
from sandbox.arm_faults import ArmCall, Fault, FaultPlan
from sandbox.arm_graph import GraphQuota
from sandbox.arm_identity import TokenIssuer
from sandbox.arm_inventory import Inventory
from sandbox.arm_jit import DEFAULT_HISTORY, JitEngine
from sandbox.arm_routes import ArmReply, ArmRequest, ArmState, Route, check_api_version, match, unknown_path
from sandbox.arm_tls import server_context, write_self_signed

__all__ = ["ArmCall", "ArmEmulator", "Fault", "FaultPlan", "Interleaved"]

Interleaved = Callable[[], Awaitable[None]]
"""Another writer's action, run between a call being answered and the answer reaching its caller."""

IDENTITY_PATH = "/msi/token"
IDENTITY_API_VERSION = "2019-08-01"
DEFAULT_IDENTITY_NAME = "jitbot-managed-identity"


class ArmEmulator:
    """The emulator: an HTTPS ARM endpoint plus an http managed-identity endpoint, in the current event loop."""

    def __init__(
        self,
        inventory: Inventory,
        clock: Clock | None = None,
        *,
        identity_name: str = DEFAULT_IDENTITY_NAME,
        page_size: int = 50,
        max_requests_history: int = DEFAULT_HISTORY,
    ):
        self.inventory = inventory
        self.clock: Clock = clock or SystemClock()
        self.calls: list[ArmCall] = []
        self.in_flight: Counter[str] = Counter()
        """Calls of each operation being answered right now."""
        self.peak_in_flight: Counter[str] = Counter()
        """The most calls of each operation answered at once since the start (or ``reset_calls``)."""
        self.faults = FaultPlan()
        self.tokens = TokenIssuer(identity_name=identity_name)
        self.jit = JitEngine(inventory, requestor=identity_name, max_history=max_requests_history)
        self._interleaved: list[tuple[str, Interleaved]] = []
        self._state = ArmState(inventory=inventory, jit=self.jit, clock=self.clock, page_size=page_size)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runners: list[web.AppRunner] = []
        self._expiry: asyncio.Task[None] | None = None
        self._url = ""
        self._identity_url = ""
        self._ca_file: Path | None = None
        self._key_file: Path | None = None

    @property
    def page_size(self) -> int:
        """How many items a list answer holds before it pages with ``nextLink``."""
        return self._state.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        if value < 1:
            raise ValueError("page_size must be at least 1")
        self._state.page_size = value

    @property
    def graph_denied(self) -> bool:
        """Whether Resource Graph answers 403 (an identity without ``Microsoft.ResourceGraph/resources/read``)."""
        return self._state.graph_denied

    @graph_denied.setter
    def graph_denied(self, value: bool) -> None:
        self._state.graph_denied = value

    @property
    def graph_quota(self) -> GraphQuota:
        """Resource Graph's per-user query quota (set ``limit`` to 0 to lift it)."""
        return self._state.graph_quota

    def index_resource_graph(self) -> None:
        """Build Resource Graph's ``Resources`` table now rather than on the first query: Azure keeps its index built,
        so a bot's first query should not wait for the emulator to build it."""
        self._state.graph_table.rows(self.inventory, [s.id for s in self.inventory.subscriptions])

    @property
    def lro_retry_after(self) -> int:
        """The ``Retry-After`` (whole seconds) on 202 answers; 0 lets a client's ``polling_interval`` decide."""
        return self._state.lro_retry_after

    @lro_retry_after.setter
    def lro_retry_after(self, value: int) -> None:
        self._state.lro_retry_after = max(0, int(value))

    @property
    def identity_name(self) -> str:
        """The name Azure records as ``requestor`` for initiates made with the emulator's tokens."""
        return self.jit.requestor

    @property
    def url(self) -> str:
        """ARM base URL (``https://127.0.0.1:<port>``), for ``AZURE_ARM_ENDPOINT`` and ``base_url=``."""
        if not self._url:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def identity_endpoint(self) -> str:
        """The managed identity token URL, for ``IDENTITY_ENDPOINT``."""
        if not self._identity_url:
            raise RuntimeError("the emulator is not started")
        return self._identity_url

    @property
    def ca_file(self) -> Path:
        """The self-signed certificate clients must trust (``SSL_CERT_FILE`` or ``connection_verify=``)."""
        if self._ca_file is None:
            raise RuntimeError("the emulator is not started")
        return self._ca_file

    @property
    def key_file(self) -> Path:
        """The certificate's private key, so another loopback emulator (Graph) can serve under the same CA file."""
        if self._key_file is None:
            raise RuntimeError("the emulator is not started")
        return self._key_file

    def environment(self) -> dict[str, str]:
        """The variables that point jitbot (or any azure-identity + azure-mgmt client) at this emulator."""
        return {
            "AZURE_ARM_ENDPOINT": self.url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.tokens.header_secret,
            "SSL_CERT_FILE": str(self.ca_file),
            "AZURE_SUBSCRIPTION_IDS": ",".join(s.id for s in self.inventory.subscriptions),
        }

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        identity_port: int = 0,
        expire_interval: float | None = None,
    ) -> ArmEmulator:
        """Listen (port 0 picks a free one); with ``expire_interval`` windows close by themselves."""
        if self._runners:
            raise RuntimeError("the emulator is already started")
        self._tmp = tempfile.TemporaryDirectory(prefix="jitbot-arm-")
        cert, key = write_self_signed(Path(self._tmp.name))
        self._ca_file = cert
        self._key_file = key
        arm_app = web.Application(client_max_size=4 * 1024 * 1024)
        arm_app.router.add_route("*", "/{tail:.*}", self._dispatch)
        identity_app = web.Application()
        identity_app.router.add_route("*", "/{tail:.*}", self._identity)
        arm_port = await self._listen(arm_app, host, port, server_context(cert, key))
        id_port = await self._listen(identity_app, host, identity_port, None)
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        self._url = f"https://{shown}:{arm_port}"
        self._identity_url = f"http://{shown}:{id_port}{IDENTITY_PATH}"
        self._state.base_url = self._url
        self.tokens.extra_audiences = (self._url,)
        if expire_interval is not None:
            self._expiry = asyncio.create_task(self._expire_every(expire_interval))
        return self

    async def stop(self) -> None:
        """Stop listening and delete the certificate."""
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
            self._expiry = None
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> ArmEmulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def reset_calls(self) -> None:
        """Forget the call log and the peaks of calls in flight."""
        self.calls.clear()
        self.peak_in_flight.clear()

    def writes(self) -> list[ArmCall]:
        """ARM calls that change something (PUT/PATCH/POST/DELETE); token requests excluded."""
        return [c for c in self.calls if c.is_write and c.operation != "token"]

    def reads(self) -> list[ArmCall]:
        """ARM calls that only read; token requests excluded."""
        return [c for c in self.calls if not c.is_write and c.operation != "token"]

    def expire_windows(self) -> int:
        """Close JIT windows whose end has passed per ``clock``; returns how many allow rules were removed."""
        return self.jit.expire(self.clock.now())

    async def _listen(self, app: web.Application, host: str, port: int, ssl_context: Any) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def _expire_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.expire_windows()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        at = self.clock.now()
        path = "/" + "/".join(part for part in request.path.split("/") if part)
        query = {k: v for k, v in request.query.items()}
        raw = await request.read()
        body, body_error = _parse_body(raw)
        route, params, allowed = match(request.method, path)
        operation = route.operation if route is not None else "unknown"
        is_write = route.is_write if route is not None else request.method in {"PUT", "PATCH", "POST", "DELETE"}
        self.in_flight[operation] += 1
        self.peak_in_flight[operation] = max(self.peak_in_flight[operation], self.in_flight[operation])
        try:
            reply = await self._answer(request, route, path, query, params, allowed, body, body_error)
        except ArmError as error:
            reply = ArmReply(error.status, error.body(), error.headers)
        finally:
            self.in_flight[operation] -= 1
        self.calls.append(ArmCall(request.method, path, query, operation, reply.status, is_write, body, at))
        return _respond(reply)

    async def _answer(
        self,
        request: web.Request,
        route: Route | None,
        path: str,
        query: dict[str, str],
        params: dict[str, str],
        allowed: list[str],
        body: Any,
        body_error: str | None,
    ) -> ArmReply:
        caller = self.tokens.authenticate(request.headers.get("Authorization"))
        version = query.get("api-version")
        if not version:
            raise bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if route is None:
            raise unknown_path(request.method, path, version, allowed)
        check_api_version(route, version)
        if body_error is not None:
            raise bad_request(
                "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {body_error}"
            )
        fault = self.faults.take(route.operation)
        if fault is not None and not fault.after_commit:
            await _suffer(fault)
        answered = route.handler(
            self._state,
            ArmRequest(request.method, path, query, params, body, request.remote or "127.0.0.1", caller.principal),
        )
        # A snapshot: an answer delayed after it was read reflects Azure's state when it was read, not when sent.
        reply = ArmReply(answered.status, copy.deepcopy(answered.body), answered.headers)
        if caller.principal == self.identity_name:
            await self._run_interleaved(route.operation)
        if fault is not None and fault.after_commit:
            await _suffer(fault)
        return reply

    def interleave(self, operation: str, writer: Interleaved) -> None:
        """Let another writer act right after jitbot's next call of ``operation`` was answered from Azure's state,
        before that answer reaches jitbot: someone using the portal between jitbot's read and its write. (Calls made
        with other identities, such as the writer's own, never trigger it.)"""
        self._interleaved.append((operation, writer))

    async def _run_interleaved(self, operation: str) -> None:
        for index, (wanted, writer) in enumerate(self._interleaved):
            if wanted == operation:
                del self._interleaved[index]
                await writer()
                return

    async def _identity(self, request: web.Request) -> web.StreamResponse:
        at = self.clock.now()
        query = {k: v for k, v in request.query.items()}
        status = 200
        try:
            if request.method != "GET" or request.path.rstrip("/") != IDENTITY_PATH:
                raise ArmError(404, "NotFound", "No such endpoint.")
            self.tokens.check_identity_header(request.headers.get("X-IDENTITY-HEADER"))
            if query.get("api-version") != IDENTITY_API_VERSION:
                raise ArmError(400, "BadRequest", f"api-version must be {IDENTITY_API_VERSION}.")
            resource = query.get("resource")
            if not resource:
                raise ArmError(400, "BadRequest", "The resource parameter is required.")
            fault = self.faults.take("token")
            if fault is not None and not fault.after_commit:
                await _suffer(fault)
            answer = self.tokens.issue(resource)
            if fault is not None and fault.after_commit:
                await _suffer(fault)
            response = web.json_response(answer)
        except ArmError as error:
            status = error.status
            response = web.json_response(
                {"statusCode": error.status, "message": error.message}, status=error.status, headers=error.headers
            )
        self.calls.append(ArmCall(request.method, request.path, query, "token", status, False, None, at))
        return response


async def _suffer(fault: Fault) -> None:
    if fault.delay > 0:
        await asyncio.sleep(fault.delay)
    if fault.status is not None:
        raise injected(fault.status, fault.retry_after)


def _parse_body(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return raw.decode("utf-8", "replace"), str(exc)


def _respond(reply: ArmReply) -> web.StreamResponse:
    headers = {
        "x-ms-request-id": str(uuid.uuid4()),
        "x-ms-correlation-request-id": str(uuid.uuid4()),
        "Cache-Control": "no-cache",
        **reply.headers,
    }
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    return web.json_response(reply.body, status=reply.status, headers=headers)


async def _serve(port: int, host: str, identity_port: int) -> None:
    from sandbox.arm_demo import demo_inventory

    arm = await ArmEmulator(demo_inventory()).start(host, port, identity_port=identity_port, expire_interval=1.0)
    try:
        stopped = asyncio.Event()
        if sys.platform != "win32":
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stopped.set)
        print(f"Azure Resource Manager emulator listening on {arm.url}")
        print(f"Managed identity endpoint: {arm.identity_endpoint}")
        print("Point jitbot (or any azure-identity + azure-mgmt client) at it with:")
        for key, value in arm.environment().items():
            print(f"export {key}={value}")
        print("Ctrl-C stops it.", flush=True)
        await stopped.wait()
    finally:
        await arm.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sandbox.arm``."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.arm", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port for ARM (default: a free one)")
    parser.add_argument("--identity-port", type=int, default=0, help="http port for the identity endpoint")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.host, args.identity_port))


if __name__ == "__main__":
    main()
