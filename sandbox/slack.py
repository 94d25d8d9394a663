"""A loopback emulator of the Slack Web API methods jitbot calls, plus response URLs.

Why: the bot, its tests, ``jitbot sandbox`` and the benchmarks need a Slack that behaves like Slack
(errors, scopes, rate limits, message updates) without an account or the network. Point slack_sdk at
``slack.api_url`` (``AsyncWebClient(token=..., base_url=slack.api_url)``, or ``SLACK_API_URL`` for the bot
process) and inspect what the bot did through ``messages_in``, ``dms_with``, ``ephemerals_for``,
``views_for``, ``home_for``, ``files_in`` and ``calls``.

    async with SlackEmulator(demo_workspace()) as slack:
        client = AsyncWebClient(token=slack.workspace.token, base_url=slack.api_url)
        await client.chat_postMessage(channel="C0APPROVAL", text="hi")
        [message] = slack.messages_in("C0APPROVAL")

Like Slack, API errors are HTTP 200 with ``{"ok": false, "error": ...}``; rate limits are HTTP 429 with a
``Retry-After`` header; every response carries ``x-oauth-scopes``. Arguments are read from the query
string, a form body or a JSON body (the token from ``Authorization: Bearer`` or a ``token`` parameter).
File uploads follow Slack's three steps (``sandbox.slack_files``): the upload URL is served here and the bytes
are kept, so a test reads back what the bot uploaded with ``files_in(channel)`` or ``uploaded(file_id)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiohttp import web

from sandbox import slack_files, slack_methods
from sandbox.slack_faults import Faults
from sandbox.slack_file_store import DEFAULT_UPLOAD_TTL, StoredFile, UploadRefused
from sandbox.slack_rate_limits import PostingLimit
from sandbox.slack_respond import apply_response
from sandbox.slack_socket import SocketModeServer
from sandbox.slack_state import (
    Call,
    Conversation,
    EventKind,
    Message,
    SlackError,
    SlackEvent,
    SlackState,
    Subscriber,
    View,
)
from sandbox.slack_workspace import Workspace, demo_workspace

log = logging.getLogger(__name__)

T = TypeVar("T")
OfflineMode = Literal["refuse", "503"]
_JSON_ARGS = ("blocks", "attachments", "view", "metadata")


def _normalised(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as recorded: JSON strings sent in form posts parsed, so tests read one shape."""
    recorded = dict(args)
    for key in _JSON_ARGS:
        value = recorded.get(key)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                recorded[key] = json.loads(value)
    return recorded


class SlackEmulator:
    """The Slack Web API on loopback HTTP, backed by an in-memory workspace.

    ``trigger_ttl`` is how long a ``trigger_id`` may be used for views.open (Slack: 3 s);
    ``response_url_ttl`` and ``response_url_uses`` bound response URLs (Slack: 30 minutes, 5 uses);
    ``posting_limit`` is chat.postMessage's per-channel rate limit (``sandbox.slack_rate_limits``; None lifts it).
    ``upload_ttl`` is how long an upload may take from files.getUploadURLExternal to its completion (Slack
    documents no limit; the emulator's default is 10 minutes).
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 1800.0,
        response_url_uses: int = 5,
        posting_limit: PostingLimit | None = None,
        upload_ttl: float = DEFAULT_UPLOAD_TTL,
    ) -> None:
        self.workspace = workspace or demo_workspace()
        self.state = SlackState(
            self.workspace,
            trigger_ttl=trigger_ttl,
            response_url_ttl=response_url_ttl,
            response_url_uses=response_url_uses,
            upload_ttl=upload_ttl,
        )
        self.faults = Faults()
        self.posting_limit = posting_limit if posting_limit is not None else PostingLimit()
        self.posting_limit_on = True
        self.socket_mode = SocketModeServer(self.workspace.bot.app_id)
        self.calls: list[Call] = []
        self._offline: OfflineMode | None = None
        self._waiters: set[asyncio.Event] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self.state.subscribe(self._wake)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SlackEmulator:
        """Listen on ``host:port`` (0 picks a free port); returns self."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        app.router.add_post(slack_files.UPLOAD_PATH + "{ticket}", self._handle_upload)
        app.router.add_get(slack_files.DOWNLOAD_PATH + "{team_file}/{name}", self._handle_download)
        app.router.add_get("/socket-mode/{ticket}", self.socket_mode.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._host = host
        await self._listen(port)
        return self

    async def _listen(self, port: int) -> None:
        assert self._runner is not None, "start() first"
        self._site = web.TCPSite(self._runner, self._host, port, reuse_address=True)
        await self._site.start()
        self._port = int(self._runner.addresses[0][1])
        self.state.base_url = self.base_url

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def __aenter__(self) -> SlackEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the emulator."""
        return f"http://{self._host}:{self._port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL with its trailing slash: what the bot gets as ``SLACK_API_URL``."""
        return f"{self.base_url}/api/"

    async def set_offline(self, offline: bool, *, mode: OfflineMode = "refuse") -> None:
        """Make Slack unreachable, or reachable again on the same port.

        ``mode="refuse"`` closes the listening socket, so new connections are refused (and requests on
        connections that were already open are dropped without an answer); ``mode="503"`` keeps
        listening and answers every request with HTTP 503.
        """
        if offline and self._offline is None:
            self._offline = mode
            if mode == "refuse" and self._site is not None:
                await self._site.stop()
                self._site = None
        elif not offline and self._offline is not None:
            if self._site is None:
                await self._listen(self._port)
            self._offline = None

    @property
    def offline(self) -> bool:
        """Whether ``set_offline(True)`` is in effect."""
        return self._offline is not None

    # -- HTTP ---------------------------------------------------------------------------------------

    def _offline_answer(self, request: web.Request) -> web.StreamResponse | None:
        if self._offline == "503":
            return web.Response(status=503, text="service unavailable")
        if self._offline == "refuse":
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()
        return None

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = json.loads(await request.text() or "{}")
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                body.pop("token", None)
                args.update(body)
            else:
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        return args

    def _record(self, method: str, args: dict[str, Any], response: dict[str, Any], status: int) -> Call:
        call = Call(method=method, args=_normalised(args), at=time.time(), response=response, status=status)
        self.calls.append(call)
        self.state.emit(SlackEvent(EventKind.API_CALL, call=call))
        return call

    def _json(self, body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        all_headers = {"x-oauth-scopes": ",".join(self.workspace.scopes)} | (headers or {})
        return web.json_response(body, status=status, headers=all_headers)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        offline = self._offline_answer(request)
        if offline is not None:
            return offline
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except (SlackError, ValueError) as exc:
            error = exc.error if isinstance(exc, SlackError) else "invalid_json"
            return self._json(self._record(method, {}, {"ok": False, "error": error}, 200).response)
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)

        fault = self.faults.take(method)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.fails:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                self._record(method, args, fault.body(), fault.status)
                return self._json(fault.body(), status=fault.status, headers=headers)

        if method == "apps.connections.open":
            return self._open_socket(args, token)
        accepted = ",".join(slack_methods.METHOD_SCOPES.get(method, ()))
        if method == "chat.postMessage" and token == self.workspace.token and self.posting_limit_on:
            retry_after = self.posting_limit.take(self._channel_id(str(args.get("channel", ""))))
            if retry_after is not None:
                body = {"ok": False, "error": "ratelimited"}
                self._record(method, args, body, 429)
                return self._json(body, status=429, headers={"Retry-After": str(retry_after)})
        try:
            if not token:
                raise SlackError("not_authed")
            if token != self.workspace.token:
                raise SlackError("invalid_auth")
            body = slack_methods.call(self.state, method, args)
        except SlackError as exc:
            body = exc.body()
        self._record(method, args, body, 200)
        return self._json(body, headers={"x-accepted-oauth-scopes": accepted})

    def _open_socket(self, args: dict[str, Any], token: str | None) -> web.Response:
        """``apps.connections.open``: only the app-level token may open a Socket Mode connection."""
        if not token:
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif token != self.workspace.app_token:
            body = {"ok": False, "error": "invalid_auth"}
        else:
            ticket = self.socket_mode.new_ticket()
            body = {"ok": True, "url": f"ws://{self._host}:{self._port}/socket-mode/{ticket}"}
        self._record("apps.connections.open", args, body, 200)
        return self._json(body)

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        offline = self._offline_answer(request)
        if offline is not None:
            return offline
        fault = self.faults.take("response_url")
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.fails:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                self._record("response_url", {}, fault.body(), fault.status)
                return self._json(fault.body(), status=fault.status, headers=headers)
        try:
            payload: Any = json.loads(await request.text())
        except ValueError:
            payload = None
        args = payload if isinstance(payload, dict) else {}
        status = 200
        try:
            target = self.state.use_response_target(request.match_info["token"])
            apply_response(self.state, target, payload, via="response_url")
            body: dict[str, Any] = {"ok": True}
        except SlackError as exc:
            body = exc.body()
            status = 404 if exc.error in ("expired_url", "used_url") else 400 if exc.error == "invalid_payload" else 200
        self._record("response_url", args, body, status)
        return self._json(body, status=status)

    async def _upload_body(self, request: web.Request) -> bytes:
        """The uploaded bytes: the raw body, or the first file part of a multipart form (Slack takes both)."""
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next((v for v in form.values() if isinstance(v, web.FileField)), None)
            return part.file.read() if part is not None else b""
        return await request.read()

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """An upload URL from files.getUploadURLExternal: HTTP 200 ``OK - <length>`` when the bytes are taken."""
        offline = self._offline_answer(request)
        if offline is not None:
            return offline
        fault = self.faults.take("upload_url")
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.fails:
                self._record("upload_url", {}, fault.body(), fault.status)
                return web.Response(status=fault.status if fault.status != 200 else 500, text="upload failed")
        data = await self._upload_body(request)
        try:
            stored = self.state.files.receive(request.match_info["ticket"], data)
        except UploadRefused as refused:
            status = 400 if refused.reason == "length" else 404
            self._record("upload_url", {"bytes": len(data)}, {"ok": False, "error": refused.reason}, status)
            return web.Response(status=status, text=refused.detail)
        self._record("upload_url", {"file_id": stored.id, "bytes": len(data)}, {"ok": True}, 200)
        return web.Response(text=f"OK - {len(data)}")

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        """``url_private`` of a shared file: the bytes, for a request with the bot token and ``files:read``."""
        offline = self._offline_answer(request)
        if offline is not None:
            return offline
        header = request.headers.get("Authorization", "")
        team, _, file_id = request.match_info["team_file"].partition("-")
        stored = self.state.files.get(file_id)
        allowed = header == f"Bearer {self.workspace.token}" and "files:read" in self.workspace.scopes
        if not allowed:
            return web.Response(status=403, text="a token with files:read is needed to download files")
        if stored is None or not stored.completed or team != self.workspace.team_id:
            return web.Response(status=404, text="file not found")
        return web.Response(body=stored.data or b"", content_type=stored.mimetype)

    # -- interaction plumbing (used by SlackDriver and the sandbox) ---------------------------------

    def new_response_url(self, *, user: str, channel: str, message: Message | None = None) -> str:
        """A response URL for an interaction by ``user`` in ``channel`` (from ``message``, for clicks)."""
        return f"{self.base_url}/response/{self.state.new_response_target(user, channel, message)}"

    def new_trigger_id(self, user: str) -> str:
        """A ``trigger_id`` for an interaction by ``user`` (one use, within ``trigger_ttl``)."""
        return self.state.issue_trigger(user)

    def dm_channel_id(self, user: str) -> str:
        """The bot's DM channel with ``user``, opened if needed (what Slack sends as channel_id in a DM)."""
        return self.state.open_dm(user)[0]

    # -- inspection ---------------------------------------------------------------------------------

    def _channel_id(self, channel: str) -> str:
        conversation = self.state.conversation(channel)
        if conversation is not None:
            return conversation.id
        return self.state.dm_channel(channel) or channel

    def conversations_for(self, user: str) -> list[Conversation]:
        """The channels ``user`` is in, then their DM with the bot if open: what a Slack sidebar lists."""
        channels = [self.state.conversation(c.id) for c in self.workspace.channels if user in c.members]
        dm = self.state.dm_channel(user)
        return [c for c in [*channels, self.state.conversation(dm) if dm else None] if c is not None]

    def messages_in(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """The bot's messages in a channel (id, name or ``#name``) or DM (its id or the user's), oldest first."""
        return self.state.messages_in(self._channel_id(channel), include_deleted=include_deleted)

    def message(self, channel: str, ts: str) -> Message:
        """One live message (ephemeral or not); raises LookupError when there is none."""
        message = self.state.find(self._channel_id(channel), ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel}")
        return message

    def dms_with(self, user: str) -> list[Message]:
        """The bot's messages in its DM with ``user``, oldest first."""
        dm = self.state.dm_channel(user)
        return self.state.messages_in(dm) if dm else []

    def ephemerals_for(self, user: str, channel: str | None = None) -> list[Message]:
        """Ephemeral messages shown to ``user`` (optionally only in ``channel``), oldest first."""
        return self.state.ephemerals(user=user, channel=self._channel_id(channel) if channel else None)

    def views_for(self, user: str) -> list[View]:
        """The modals ``user`` has open, bottom first; the last one is on screen."""
        return self.state.modal_stack(user)

    def view(self, view_id: str) -> View:
        """A view by id; raises LookupError when unknown."""
        view = self.state.view(view_id)
        if view is None:
            raise LookupError(f"no view {view_id}")
        return view

    def home_for(self, user: str) -> View | None:
        """The App Home published for ``user``, if any."""
        return self.state.home(user)

    def uploaded(self, file_id: str) -> StoredFile:
        """One upload by file id, with its bytes (``data``); raises LookupError when there is none."""
        stored = self.state.files.get(file_id)
        if stored is None:
            raise LookupError(f"no upload {file_id}")
        return stored

    def files_in(self, channel: str) -> list[StoredFile]:
        """Completed uploads shared in a channel (id, name or ``#name``) or DM (its id or the user's), oldest first."""
        channel_id = self._channel_id(channel)
        return [f for f in self.state.files.completed() if channel_id in f.channels]

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls to one method (``"response_url"`` for response URL posts), oldest first."""
        return [c for c in self.calls if c.method == method]

    # -- waiting ------------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(SlackEvent)`` on every state change and recorded call; returns an unsubscribe.

        Callbacks run synchronously inside the emulator and must not block; an async consumer can put
        the event on an ``asyncio.Queue``.
        """
        return self.state.subscribe(callback)

    def _wake(self, event: SlackEvent) -> None:
        for waiter in self._waiters:
            waiter.set()

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` returns something truthy (re-checked on every change); returns it."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = predicate()
                    if result:
                        return result
                    waiter = asyncio.Event()
                    self._waiters.add(waiter)
                    try:
                        await waiter.wait()
                    finally:
                        self._waiters.discard(waiter)
        except TimeoutError:
            recent = ", ".join(f"{c.method}:{c.error or 'ok'}" for c in self.calls[-10:]) or "none"
            raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}") from None

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Call:
        """The first recorded call to ``method`` (already made or still to come) matching ``predicate``."""
        return await self.wait_until(
            lambda: next(
                (c for c in self.calls if c.method == method and (predicate is None or predicate(c))),
                None,
            ),
            timeout,
        )

    async def wait_for_message(
        self,
        channel: str,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Message:
        """The first live message in ``channel`` (or DM channel) matching ``predicate``."""
        return await self.wait_until(
            lambda: next(
                (m for m in self.messages_in(channel) if predicate is None or predicate(m)),
                None,
            ),
            timeout,
        )
