"""Slack's Socket Mode, emulated: ``apps.connections.open`` hands out a websocket URL; Slack sends envelopes
(slash commands, interactivity, events) over it and waits for the app to ack each one by envelope id.

Why: ``jitbot serve`` with SLACK_APP_TOKEN runs Bolt's real Socket Mode client; this lets the tests drive that
client exactly as Slack would, instead of assuming Socket Mode behaves like HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from aiohttp import WSMsgType, web

ACK_DEADLINE = 3.0


class SocketModeError(RuntimeError):
    """No app connected, or it did not ack in time."""


class SocketModeServer:
    """The websocket side of Socket Mode for one app."""

    def __init__(self, app_id: str):
        self.app_id = app_id
        self.connections: list[web.WebSocketResponse] = []
        self.envelopes_sent = 0
        self._tickets: set[str] = set()
        self._acks: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._connected = asyncio.Event()

    def new_ticket(self) -> str:
        """A one-use path component for the URL ``apps.connections.open`` returns."""
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        return ticket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Accept the app's websocket, say hello, then route its acks to the waiting deliveries."""
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="unknown or used Socket Mode ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True, heartbeat=None)
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.connections) + 1,
                "debug_info": {"host": "jitbot-emulator", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self.connections.append(socket)
        self._connected.set()
        try:
            async for message in socket:
                if message.type is not WSMsgType.TEXT:
                    continue
                data = message.json()
                waiter = self._acks.pop(str(data.get("envelope_id", "")), None)
                if waiter is not None and not waiter.done():
                    payload = data.get("payload")
                    waiter.set_result(payload if isinstance(payload, dict) else None)
        finally:
            self.connections.remove(socket)
            if not self.connections:
                self._connected.clear()
        return socket

    async def deliver(
        self, kind: str, payload: dict[str, Any], *, deadline: float = ACK_DEADLINE
    ) -> dict[str, Any] | None:
        """Send one envelope (``slash_commands``, ``interactive`` or ``events_api``); return the ack's payload."""
        try:
            async with asyncio.timeout(deadline):
                await self._connected.wait()
        except TimeoutError:
            raise SocketModeError("no app is connected over Socket Mode") from None
        envelope_id = secrets.token_hex(16)
        waiter: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self.connections[-1].send_json(envelope)
        self.envelopes_sent += 1
        try:
            async with asyncio.timeout(deadline):
                return await waiter
        except TimeoutError:
            raise SocketModeError(f"the app did not ack envelope {envelope_id} within {deadline}s") from None
        finally:
            self._acks.pop(envelope_id, None)

    async def close(self) -> None:
        """Close every app connection (as Slack does when it rotates them)."""
        for socket in list(self.connections):
            with contextlib.suppress(Exception):
                await socket.close()
