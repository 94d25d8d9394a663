"""The sandbox web server: the page, its state as JSON, live change events, and what people do on it.

Why: ``jitbot sandbox`` is meant to be clicked through in a browser. Every action on the page goes through
the SlackDriver (the same signed payloads Slack sends), so the page exercises the real bot, never a shortcut.

Routes (all JSON POSTs need ``Content-Type: application/json``, which a cross-site form cannot send):
``GET /`` the page; ``GET /static/<file>``; ``GET /api/state?user=U…``; ``GET /api/events`` (SSE);
``POST /api/command`` ``{user, channel, text}``; ``POST /api/click`` ``{user, channel, ts, action_id, value}``;
``POST /api/view/click`` ``{user, view_id, action_id, value, values}``; ``POST /api/view/submit``
``{user, view_id, values}``; ``POST /api/view/close`` ``{user, view_id}``; ``POST /api/home/open`` ``{user}``;
``POST /api/clock`` ``{minutes}`` or ``{to: "next"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.arm_outside import OpenPort, OutsideWriteFailed, PortalUser
from sandbox.slack_driver import DriverResponse, SlackDriver
from sandbox.slack_state import EventKind, SlackEvent, View
from sandbox.stack import Stack
from sandbox.web.azure_view import RuleActivity, azure_snapshot
from sandbox.web.clock import SandboxClock
from sandbox.web.forms import FormError, form_state
from sandbox.web.home_event import app_home_opened, send_event
from sandbox.web.live import ChangeFeed
from sandbox.web.next_event import next_event
from sandbox.web.slack_view import FILES_PATH, conversations_for, may_see_file, slack_snapshot

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(?:js|css|svg)$")
_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_FAST_FORWARD = timedelta(days=1)


@dataclass(frozen=True)
class PortalDemo:
    """What the "someone uses the portal" button does: a person opens a port outside jitbot."""

    person: str = "pat@contoso.com"
    vm: str = "web-01"
    port: int = 22
    source: str = "198.51.100.99"
    window: timedelta = timedelta(hours=1)

    def describe(self) -> dict[str, str]:
        """The facts the page shows after the click."""
        return {"person": self.person, "vm": self.vm, "port": str(self.port), "source": self.source}


PORTAL_DEMO = PortalDemo()
HEARTBEAT_SECONDS = 15.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request the page should not have sent; answered as ``{"ok": false, "error": …}``."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _answer(response: DriverResponse) -> dict[str, Any]:
    """The bot's HTTP answer as the page reads it; a non-200 is what Slack shows as ``dispatch_failed``."""
    body: dict[str, Any] = {"ok": response.status == 200, "status": response.status}
    if response.status != 200:
        body["error"] = f'the app answered HTTP {response.status} ("dispatch_failed" in Slack)'
    if response.rejected:
        body["rejected"] = list(response.rejected)
    return body


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ApiError as exc:
        response = web.json_response({"ok": False, "error": exc.error}, status=exc.status)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class SandboxWeb:
    """Serves the page for a started Stack; ``clock`` enables the fast-forward controls."""

    def __init__(self, stack: Stack, clock: SandboxClock | None = None, *, watch_interval: float = 0.25) -> None:
        self.stack = stack
        self.clock = clock
        self.watch_interval = watch_interval
        self.feed = ChangeFeed()
        self.activity = RuleActivity()
        self._azure_fingerprint = ""
        self._posted_at: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._url = ""

    @property
    def url(self) -> str:
        """``http://host:port/`` of the page."""
        if not self._url:
            raise RuntimeError("the sandbox web server is not started")
        return self._url

    @property
    def driver(self) -> SlackDriver:
        """The stack's driver: how every click reaches the bot."""
        if self.stack.driver is None:
            raise RuntimeError("the stack is not started")
        return self.stack.driver

    def application(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(middlewares=[_guard], client_max_size=256 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/events", self._events)
        app.router.add_get(FILES_PATH + "{file_id}", self._file)
        app.router.add_post("/api/command", self._command)
        app.router.add_post("/api/click", self._click)
        app.router.add_post("/api/view/click", self._view_click)
        app.router.add_post("/api/view/submit", self._view_submit)
        app.router.add_post("/api/view/close", self._view_close)
        app.router.add_post("/api/home/open", self._home_open)
        app.router.add_post("/api/clock", self._clock)
        app.router.add_post("/api/azure/portal", self._portal)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SandboxWeb:
        """Listen on ``host:port`` (0 picks a free port) and start watching the emulators."""
        self._session = aiohttp.ClientSession()
        self._unsubscribe = self.stack.slack.subscribe(self._on_slack)
        self._check_azure()
        self._watcher = asyncio.create_task(self._watch_azure(), name="sandbox-azure-watch")
        self._runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = int(self._runner.addresses[0][1])
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self._url = f"http://{shown}:{bound}/"
        return self

    async def stop(self) -> None:
        """Close live connections, stop watching, stop listening."""
        self.feed.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _on_shutdown(self, app: web.Application) -> None:
        self.feed.close()

    # -- watching -----------------------------------------------------------------------------------

    def _on_slack(self, event: SlackEvent) -> None:
        if event.kind == EventKind.API_CALL:
            return
        if event.kind == EventKind.MESSAGE_POSTED and event.message is not None:
            self._posted_at[event.message.ts] = self.stack.clock.now().astimezone(UTC).isoformat()
        self.feed.bump()

    def _check_azure(self) -> None:
        snapshot = azure_snapshot(self.stack.arm)
        fingerprint = json.dumps(snapshot, sort_keys=True)
        if fingerprint != self._azure_fingerprint:
            self._azure_fingerprint = fingerprint
            self.activity.observe(snapshot["open_rules"], self.stack.clock.now())
            self.feed.bump()

    async def _watch_azure(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                self._check_azure()
            except Exception:
                log.exception("sandbox.azure_watch_failed")

    # -- helpers ------------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise ApiError(415, "send JSON (Content-Type: application/json)")
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise ApiError(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body

    def _user(self, value: Any) -> str:
        people = {u.id for u in self.stack.slack.workspace.people()}
        if not isinstance(value, str) or value not in people:
            raise ApiError(400, "user must be the id of a person in the workspace")
        return value

    @staticmethod
    def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
        value = body.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value):
            raise ApiError(400, f"{key} must be a non-empty string")
        return value

    def _channel_of(self, user: str, channel: Any) -> str:
        visible = {c["id"] for c in conversations_for(self.stack.slack, user)}
        if not isinstance(channel, str) or channel not in visible:
            raise ApiError(403, "that conversation is not one this user can see")
        return channel

    def _view(self, user: str, view_id: Any) -> View:
        if not isinstance(view_id, str):
            raise ApiError(400, "view_id must be a string")
        try:
            view = self.stack.slack.view(view_id)
        except LookupError:
            raise ApiError(404, "no such view") from None
        if view.user != user:
            raise ApiError(403, "that view belongs to someone else")
        if view.closed:
            raise ApiError(409, "that view is closed")
        return view

    def _values(self, view: View, body: dict[str, Any]) -> dict[str, Any]:
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise ApiError(400, "values must be an object keyed by block id")
        try:
            return form_state(view, values)
        except FormError as exc:
            raise ApiError(400, str(exc)) from None

    async def _drive(self, step: Awaitable[DriverResponse]) -> DriverResponse:
        try:
            return await step
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(502, f"the app did not answer: {exc!r}") from None

    async def _clock_json(self) -> dict[str, Any]:
        now = self.stack.clock.now()
        next_due = await next_event(self.stack.runtime.schedule, self.stack.runtime.store)
        return {
            "now": now.astimezone(UTC).isoformat(),
            "offset_seconds": int(self.clock.offset.total_seconds()) if self.clock else 0,
            "can_advance": self.clock is not None,
            "next_due": next_due.astimezone(UTC).isoformat() if next_due else None,
        }

    # -- pages --------------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=(STATIC / "index.html").read_bytes(), content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        if not _STATIC_NAME.fullmatch(name) or not path.is_file():
            raise ApiError(404, "no such file")
        return web.Response(body=path.read_bytes(), content_type=_CONTENT_TYPES[path.suffix], charset="utf-8")

    async def _state(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request.query.get("user"))
        self._check_azure()
        version = self.feed.version
        body = {
            "ok": True,
            "version": version,
            "me": user,
            "slack": slack_snapshot(self.stack.slack, user, self._posted_at),
            "azure": azure_snapshot(self.stack.arm) | {"activity": self.activity.to_json()},
            "clock": await self._clock_json(),
        }
        return web.json_response(body)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """A shared file's bytes (the review's chart and CSV), for a person who can read where it was shared."""
        user = self._user(request.query.get("user"))
        file_id = request.match_info["file_id"]
        if not may_see_file(self.stack.slack, user, file_id):
            raise ApiError(404, "no such file in your conversations")
        stored = self.stack.slack.state.files.get(file_id)
        assert stored is not None
        disposition = "inline" if stored.mimetype.startswith("image/") else "attachment"
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", stored.filename)
        return web.Response(
            body=stored.data or b"",
            content_type=stored.mimetype,
            headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        seen = -1
        try:
            while not self.feed.closed:
                version = await self.feed.wait_newer(seen, HEARTBEAT_SECONDS)
                if self.feed.closed:
                    break
                if version == seen:
                    await response.write(b": heartbeat\n\n")
                    continue
                seen = version
                await response.write(f"data: {json.dumps({'version': version})}\n\n".encode())
        except ConnectionResetError:
            pass
        return response

    # -- actions ------------------------------------------------------------------------------------

    async def _command(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user"))
        channel = self._channel_of(user, body.get("channel"))
        text = (self._text(body, "text") or "").strip()
        if not text.startswith("/"):
            raise ApiError(400, "Only slash commands reach the app here: type /jit …")
        command, _, arguments = text.partition(" ")
        if command != "/jit":
            raise ApiError(400, f"{command} is not a valid command. In this workspace only /jit is installed.")
        response = await self._drive(self.driver.slash_command(user, arguments.strip(), channel_id=channel))
        return web.json_response(_answer(response))

    async def _click(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user"))
        channel = self._channel_of(user, body.get("channel"))
        ts = self._text(body, "ts") or ""
        action_id = self._text(body, "action_id") or ""
        value = self._text(body, "value", required=False)
        try:
            message = self.stack.slack.message(channel, ts)
        except LookupError:
            raise ApiError(404, "that message is gone") from None
        if message.ephemeral_to not in (None, user):
            raise ApiError(403, "that message was shown to someone else")
        response = await self._drive(self.driver.click(user, message, action_id, value))
        return web.json_response(_answer(response))

    async def _view_click(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user"))
        view = self._view(user, body.get("view_id"))
        action_id = self._text(body, "action_id") or ""
        value = self._text(body, "value", required=False)
        values = self._values(view, body)
        response = await self._drive(self.driver.click_in_view(user, view, action_id, value, values=values))
        return web.json_response(_answer(response))

    async def _view_submit(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user"))
        view = self._view(user, body.get("view_id"))
        if view.type != "modal":
            raise ApiError(400, "only modals can be submitted")
        response = await self._drive(self.driver.submit_view(user, view, self._values(view, body)))
        return web.json_response(_answer(response))

    async def _view_close(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user"))
        view = self._view(user, body.get("view_id"))
        if view.type != "modal":
            raise ApiError(400, "only modals can be closed")
        try:
            response = await self.driver.close_view(user, view)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(502, f"the app did not answer: {exc!r}") from None
        return web.json_response(_answer(response) if response is not None else {"ok": True, "status": None})

    async def _home_open(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user"))
        if self._session is None:
            raise ApiError(503, "the sandbox is stopping")
        event = app_home_opened(self.stack.slack.workspace, user=user, channel=self.stack.slack.dm_channel_id(user))
        try:
            status = await send_event(self._session, self.driver.bot_url, self.stack.signing_secret, event)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(502, f"the app did not answer: {exc!r}") from None
        return web.json_response({"ok": status == 200, "status": status})

    async def _portal(self, request: web.Request) -> web.StreamResponse:
        """Someone outside jitbot opens a port in the portal (as a person, over HTTPS): the sync reports it."""
        await self._body(request)
        vm = self.stack.arm.inventory.vm(PORTAL_DEMO.vm)
        end = self.stack.clock.now() + PORTAL_DEMO.window
        async with PortalUser(self.stack.arm, PORTAL_DEMO.person) as person:
            try:
                await person.initiate(vm.id, [OpenPort(PORTAL_DEMO.port, PORTAL_DEMO.source, end)], "portal request")
            except OutsideWriteFailed as exc:
                raise ApiError(409, f"Azure refused: {exc.body}") from None
        self._check_azure()
        return web.json_response({"ok": True, **PORTAL_DEMO.describe()})

    async def _clock(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if self.clock is None:
            raise ApiError(409, "this sandbox runs on the wall clock")
        now = self.clock.now()
        if body.get("to") == "next":
            due = await next_event(self.stack.runtime.schedule, self.stack.runtime.store)
            if due is None:
                raise ApiError(409, "nothing is scheduled")
            jump = max(due - now, timedelta(0)) + timedelta(seconds=1)
        else:
            minutes = body.get("minutes")
            if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
                raise ApiError(400, "minutes must be a positive whole number")
            jump = timedelta(minutes=minutes)
        if jump > MAX_FAST_FORWARD:
            raise ApiError(400, "fast-forward at most one day at a time")
        self.clock.advance(jump)
        self.stack.arm.expire_windows()
        self.stack.runtime.scheduler.wake()
        self._check_azure()
        self.feed.bump()
        return web.json_response({"ok": True, "clock": await self._clock_json()})
