"""The Slack emulator's memory: messages and their edit history, ephemerals, DMs, modals, App Homes.

Kept apart from the HTTP layer so the Web API methods, response URLs and the driver all change the same
state through the same few operations, and every change is announced once to subscribers (the sandbox UI
pushes these to the browser; tests wait on them).
"""

from __future__ import annotations

import copy
import itertools
import logging
import secrets
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from sandbox.slack_file_store import DEFAULT_UPLOAD_TTL, FileStore
from sandbox.slack_workspace import Workspace

log = logging.getLogger(__name__)


class SlackError(Exception):
    """A Slack API error code (``channel_not_found``…) plus the extra fields Slack sends with it."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Slack answers with."""
        return {"ok": False, "error": self.error, **self.extra}


class EventKind(StrEnum):
    """What changed; ``message`` events cover ephemerals too (``message.is_ephemeral``)."""

    MESSAGE_POSTED = "message_posted"
    MESSAGE_UPDATED = "message_updated"
    MESSAGE_DELETED = "message_deleted"
    VIEW_OPENED = "view_opened"
    VIEW_UPDATED = "view_updated"
    VIEW_CLOSED = "view_closed"
    HOME_PUBLISHED = "home_published"
    API_CALL = "api_call"


@dataclass(frozen=True)
class Call:
    """One recorded request to the emulator: a Web API method, or ``response_url`` for response URL posts."""

    method: str
    args: dict[str, Any]
    at: float
    response: dict[str, Any]
    status: int = 200

    @property
    def ok(self) -> bool:
        """Whether Slack would have reported success."""
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """Slack's error code, if any."""
        error = self.response.get("error")
        return str(error) if error is not None else None


@dataclass(frozen=True)
class MessageVersion:
    """The content of a message at one point in time, and what produced it."""

    text: str
    blocks: list[dict[str, Any]]
    at: float
    via: str


@dataclass(frozen=True)
class Button:
    """A button as it appears in a message or view, with the block it lives in."""

    action_id: str
    value: str | None
    block_id: str
    text: str
    style: str | None
    element: dict[str, Any]


def interactive_elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every interactive element in ``blocks`` with its block id: what a user could click or fill in."""
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        if block.get("type") in ("actions", "context_actions"):
            for element in block.get("elements", []):
                yield block_id, element
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block_id, block["accessory"]
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block_id, block["element"]


def buttons_in(blocks: list[dict[str, Any]]) -> list[Button]:
    """The buttons among ``blocks``' interactive elements."""
    return [
        Button(
            action_id=str(element.get("action_id", "")),
            value=element.get("value"),
            block_id=block_id,
            text=str(element.get("text", {}).get("text", "")),
            style=element.get("style"),
            element=element,
        )
        for block_id, element in interactive_elements(blocks)
        if element.get("type") == "button"
    ]


@dataclass
class Message:
    """A message the bot posted (or an ephemeral one, when ``ephemeral_to`` is set) with every version of it.

    ``files`` are the Slack file objects of a message that shares uploaded files (files.completeUploadExternal).
    """

    channel: str
    ts: str
    user: str
    versions: list[MessageVersion]
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    deleted: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> MessageVersion:
        """What the message shows now."""
        return self.versions[-1]

    @property
    def text(self) -> str:
        """Current text (the notification fallback when there are blocks)."""
        return self.current.text

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """Current blocks, with the block ids Slack filled in."""
        return self.current.blocks

    @property
    def is_ephemeral(self) -> bool:
        """Only ``ephemeral_to`` can see it; it cannot be changed with chat.update."""
        return self.ephemeral_to is not None

    def buttons(self) -> list[Button]:
        """The buttons currently on the message."""
        return buttons_in(self.blocks)

    def to_api(self, workspace: Workspace) -> dict[str, Any]:
        """The message object as Slack returns it from chat.postMessage and in interaction payloads."""
        body: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": workspace.team_id,
            "blocks": copy.deepcopy(self.blocks),
        }
        if self.user == workspace.bot.user_id:
            body |= {
                "bot_id": workspace.bot.bot_id,
                "app_id": workspace.bot.app_id,
                "bot_profile": {
                    "id": workspace.bot.bot_id,
                    "app_id": workspace.bot.app_id,
                    "name": workspace.bot.name,
                    "team_id": workspace.team_id,
                    "deleted": False,
                },
            }
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.files:
            body |= {"files": copy.deepcopy(self.files), "upload": True, "display_as_bot": False}
        if len(self.versions) > 1:
            body["edited"] = {"user": self.user, "ts": f"{self.current.at:.6f}"}
        return body


@dataclass
class View:
    """A modal or App Home view as the app last set it, with its earlier contents and submission errors."""

    id: str
    user: str
    content: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    submitted_values: dict[str, Any] | None = None

    @property
    def type(self) -> str:
        """``modal`` or ``home``."""
        return str(self.content.get("type", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The view's blocks, with the block ids Slack filled in."""
        blocks: list[dict[str, Any]] = self.content.get("blocks", [])
        return blocks

    @property
    def callback_id(self) -> str:
        """The app's name for this view (what Bolt's ``@app.view`` matches)."""
        return str(self.content.get("callback_id", ""))

    @property
    def private_metadata(self) -> str:
        """Opaque state the app stored in the view."""
        return str(self.content.get("private_metadata", ""))

    @property
    def external_id(self) -> str | None:
        """The app-chosen unique id, if any."""
        value = self.content.get("external_id")
        return str(value) if value else None

    @property
    def title(self) -> str:
        """The modal title text (empty for App Home)."""
        return str(self.content.get("title", {}).get("text", ""))

    def buttons(self) -> list[Button]:
        """The buttons currently in the view."""
        return buttons_in(self.blocks)

    def to_api(self, workspace: Workspace, state_values: dict[str, Any] | None = None) -> dict[str, Any]:
        """The view object as Slack returns it from views.* and sends it in interaction payloads."""
        body = copy.deepcopy(self.content)
        body.setdefault("private_metadata", "")
        body.setdefault("callback_id", "")
        body.setdefault("external_id", "")
        body.setdefault("clear_on_close", False)
        body.setdefault("notify_on_close", False)
        body |= {
            "id": self.id,
            "team_id": workspace.team_id,
            "state": {"values": copy.deepcopy(state_values or {})},
            "hash": self.hash,
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": workspace.bot.app_id,
            "app_installed_team_id": workspace.team_id,
            "bot_id": workspace.bot.bot_id,
        }
        return body


@dataclass(frozen=True)
class SlackEvent:
    """A state change announced to subscribers."""

    kind: EventKind
    message: Message | None = None
    view: View | None = None
    call: Call | None = None


@dataclass(frozen=True)
class Conversation:
    """A channel, private channel or DM as the Web API sees it; ``members`` are people, not the bot."""

    id: str
    name: str
    kind: Literal["channel", "group", "im"]
    members: tuple[str, ...]
    bot_is_member: bool
    user: str | None = None
    topic: str = ""

    def has_member(self, user_id: str) -> bool:
        """Whether ``user_id`` (a person or the bot) is in the conversation."""
        return user_id in self.members


@dataclass(frozen=True)
class ResponseTarget:
    """Where a response URL's posts go: who triggered it, in which conversation, from which message."""

    user: str
    channel: str
    message_ts: str | None
    message_is_ephemeral: bool
    created: float


@dataclass
class _Trigger:
    user: str
    issued: float
    used: bool = False


Subscriber = Callable[[SlackEvent], None]


def _random_id(prefix: str, length: int = 10) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``blocks`` with the block and action ids Slack generates when the app leaves them out."""
    filled = copy.deepcopy(blocks)
    for block in filled:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)
    for _, element in interactive_elements([b for b in filled if isinstance(b, dict)]):
        if isinstance(element, dict) and not element.get("action_id"):
            element["action_id"] = secrets.token_urlsafe(4)
    return filled


class SlackState:
    """All mutable emulator state and the only code that changes it."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 1800.0,
        response_url_uses: int = 5,
        upload_ttl: float = DEFAULT_UPLOAD_TTL,
    ) -> None:
        self.workspace = workspace
        self.base_url = ""
        """``http://host:port`` the emulator listens on (set when it starts): where upload and file URLs point."""
        self.files = FileStore(upload_ttl)
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self.response_url_uses = response_url_uses
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: list[Message] = []
        self._dms: dict[str, str] = {}
        self._views: dict[str, View] = {}
        self._modal_stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_targets: dict[str, ResponseTarget] = {}
        self._response_uses: dict[str, int] = {}
        self._subscribers: list[Subscriber] = []
        self._last_ts = 0.0
        self._counter = itertools.count(1)

    # -- events -------------------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` on every change; returns a function that unsubscribes it."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, event: SlackEvent) -> None:
        """Tell every subscriber; a failing subscriber is logged and never breaks the emulator."""
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("slack_emulator.subscriber_failed", extra={"kind": event.kind.value})

    def next_ts(self) -> str:
        """A message timestamp: wall-clock seconds with microseconds, strictly increasing like Slack's."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    # -- conversations ------------------------------------------------------------------------------

    def conversation(self, id_or_name: str) -> Conversation | None:
        """A channel (by id or name) or an open DM (by its ``D…`` id)."""
        bot = self.workspace.bot.user_id
        for user, dm in self._dms.items():
            if dm == id_or_name:
                return Conversation(dm, user, "im", (user, bot), True, user=user)
        channel = self.workspace.channel(id_or_name)
        if channel is None:
            return None
        members = tuple(channel.members) + ((bot,) if channel.bot_is_member else ())
        kind: Literal["channel", "group"] = "group" if channel.is_private else "channel"
        return Conversation(channel.id, channel.name, kind, members, channel.bot_is_member, topic=channel.topic)

    def open_dm(self, user_id: str) -> tuple[str, bool]:
        """The DM channel id between the bot and ``user_id``, and whether it was already open."""
        existing = self._dms.get(user_id)
        if existing:
            return existing, True
        dm = "D" + user_id[1:] if len(user_id) > 1 else _random_id("D")
        self._dms[user_id] = dm
        return dm, False

    def dm_channel(self, user_id: str) -> str | None:
        """The DM channel id with ``user_id`` if one has been opened."""
        return self._dms.get(user_id)

    # -- messages -----------------------------------------------------------------------------------

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        via: str,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
        user: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Store a new message (ephemeral when ``ephemeral_to`` is set; sharing ``files``) and announce it."""
        version = MessageVersion(text, _with_block_ids(blocks), time.time(), via)
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            user=user or self.workspace.bot.user_id,
            versions=[version],
            thread_ts=thread_ts,
            ephemeral_to=ephemeral_to,
            files=copy.deepcopy(files or []),
        )
        if ephemeral_to is None:
            self._messages.setdefault(channel, []).append(message)
        else:
            self._ephemerals.append(message)
        self.emit(SlackEvent(EventKind.MESSAGE_POSTED, message=message))
        return message

    def update(self, message: Message, *, text: str, blocks: list[dict[str, Any]], via: str) -> Message:
        """Add a new version to ``message`` and announce it."""
        message.versions.append(MessageVersion(text, _with_block_ids(blocks), time.time(), via))
        self.emit(SlackEvent(EventKind.MESSAGE_UPDATED, message=message))
        return message

    def delete(self, message: Message) -> None:
        """Mark ``message`` deleted (it stays inspectable) and announce it."""
        message.deleted = True
        self.emit(SlackEvent(EventKind.MESSAGE_DELETED, message=message))

    def find(self, channel: str, ts: str) -> Message | None:
        """A live message (ephemeral or not) in ``channel`` with timestamp ``ts``."""
        for message in itertools.chain(self._messages.get(channel, []), self._ephemerals):
            if message.channel == channel and message.ts == ts and not message.deleted:
                return message
        return None

    def messages_in(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """Non-ephemeral messages in ``channel``, oldest first."""
        return [m for m in self._messages.get(channel, []) if include_deleted or not m.deleted]

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[Message]:
        """Live ephemeral messages, optionally only those shown to ``user`` and/or in ``channel``."""
        return [
            m
            for m in self._ephemerals
            if not m.deleted and (user is None or m.ephemeral_to == user) and (channel is None or m.channel == channel)
        ]

    def all_messages(self) -> list[Message]:
        """Every message ever stored, ephemerals and deleted ones included, in posting order."""
        return sorted(itertools.chain(*self._messages.values(), self._ephemerals), key=lambda m: float(m.ts))

    # -- views --------------------------------------------------------------------------------------

    def _new_view(self, user: str, content: dict[str, Any], *, root: str | None, previous: str | None) -> View:
        view_id = _random_id("V")
        stored = copy.deepcopy(content)
        stored["blocks"] = _with_block_ids(stored.get("blocks", []))
        view = View(view_id, user, stored, secrets.token_hex(8), root or view_id, previous)
        self._views[view_id] = view
        return view

    def view(self, view_id: str) -> View | None:
        """A view by id, open or closed."""
        return self._views.get(view_id)

    def view_by_external_id(self, external_id: str) -> View | None:
        """The live view with this app-chosen ``external_id``."""
        return next((v for v in self._views.values() if v.external_id == external_id and not v.closed), None)

    def modal_stack(self, user: str) -> list[View]:
        """The modals ``user`` has open, bottom first (the last one is the one on screen)."""
        return [self._views[v] for v in self._modal_stacks.get(user, [])]

    def open_modal(self, user: str, content: dict[str, Any]) -> View:
        """Open a modal for ``user``, replacing any modals already open, and announce it."""
        self.clear_modals(user)
        view = self._new_view(user, content, root=None, previous=None)
        self._modal_stacks[user] = [view.id]
        self.emit(SlackEvent(EventKind.VIEW_OPENED, view=view))
        return view

    def push_modal(self, user: str, content: dict[str, Any]) -> View:
        """Push a modal on top of ``user``'s stack and announce it."""
        stack = self._modal_stacks.setdefault(user, [])
        root = stack[0] if stack else None
        previous = stack[-1] if stack else None
        view = self._new_view(user, content, root=root, previous=previous)
        stack.append(view.id)
        self.emit(SlackEvent(EventKind.VIEW_OPENED, view=view))
        return view

    def update_view(self, view: View, content: dict[str, Any]) -> View:
        """Replace a view's content (new hash, old content kept in ``versions``) and announce it."""
        view.versions.append(view.content)
        view.content = copy.deepcopy(content)
        view.content["blocks"] = _with_block_ids(view.content.get("blocks", []))
        view.hash = secrets.token_hex(8)
        view.errors = {}
        self.emit(SlackEvent(EventKind.HOME_PUBLISHED if view.type == "home" else EventKind.VIEW_UPDATED, view=view))
        return view

    def set_view_errors(self, view: View, errors: dict[str, str]) -> None:
        """Show ``response_action: errors`` under the view's inputs (keyed by block id) and announce it."""
        view.errors = dict(errors)
        self.emit(SlackEvent(EventKind.VIEW_UPDATED, view=view))

    def close_modal(self, view: View) -> None:
        """Close ``view`` and everything pushed above it, announcing each."""
        stack = self._modal_stacks.get(view.user, [])
        if view.id in stack:
            index = stack.index(view.id)
            for closed_id in reversed(stack[index:]):
                closed = self._views[closed_id]
                closed.closed = True
                self.emit(SlackEvent(EventKind.VIEW_CLOSED, view=closed))
            del stack[index:]

    def clear_modals(self, user: str) -> None:
        """Close every modal ``user`` has open."""
        stack = self._modal_stacks.get(user, [])
        if stack:
            self.close_modal(self._views[stack[0]])

    def home(self, user: str) -> View | None:
        """The App Home view published for ``user``."""
        view_id = self._homes.get(user)
        return self._views[view_id] if view_id else None

    def publish_home(self, user: str, content: dict[str, Any]) -> View:
        """Create or replace ``user``'s App Home and announce it."""
        existing = self.home(user)
        if existing is not None:
            return self.update_view(existing, content)
        view = self._new_view(user, content, root=None, previous=None)
        self._homes[user] = view.id
        self.emit(SlackEvent(EventKind.HOME_PUBLISHED, view=view))
        return view

    # -- triggers and response URLs -----------------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        """A fresh ``trigger_id`` for an interaction by ``user``: usable once, within ``trigger_ttl``."""
        now = time.time()
        trigger_id = f"{int(now)}.{next(self._counter)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user, time.monotonic())
        return trigger_id

    def redeem_trigger(self, trigger_id: str) -> str:
        """The user a trigger was issued for; raises SlackError like views.open does for bad triggers."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user

    def new_response_target(self, user: str, channel: str, message: Message | None = None) -> str:
        """Register a response URL target and return its secret token."""
        token = secrets.token_urlsafe(18)
        self._response_targets[token] = ResponseTarget(
            user=user,
            channel=channel,
            message_ts=message.ts if message else None,
            message_is_ephemeral=bool(message and message.is_ephemeral),
            created=time.monotonic(),
        )
        return token

    def use_response_target(self, token: str) -> ResponseTarget:
        """Count one use of a response URL; raises SlackError when it is unknown, expired or used up."""
        target = self._response_targets.get(token)
        if target is None or time.monotonic() - target.created > self.response_url_ttl:
            raise SlackError("expired_url")
        uses = self._response_uses.get(token, 0)
        if uses >= self.response_url_uses:
            raise SlackError("used_url")
        self._response_uses[token] = uses + 1
        return target
