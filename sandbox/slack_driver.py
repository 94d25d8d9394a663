"""Sends the bot what Slack would send it: signed slash commands, button clicks and modal submissions.

Why: tests, ``jitbot sandbox`` and the benchmarks must drive the bot through its real HTTP endpoint and
Bolt's real signature check, with payloads that point back at the emulator (response URLs, trigger ids,
stored messages and views). The driver also plays Slack's part after the bot answers: a slash command's
ack body is shown to the user, a view submission's ``response_action`` is applied to the modal.

    async with SlackEmulator() as slack, SlackDriver(bot_url, secret, slack) as driver:
        await driver.slash_command(ENGINEER, "ssh vm-1 2h deploy")
        card = await slack.wait_for_message(APPROVAL_CHANNEL)
        await driver.click(APPROVER_1, card, "jit_approve")

Security tests can forge any request (``timestamp=``, ``secret=``, extra ``headers=`` such as
``X-Slack-Retry-Num``) and resend one byte for byte with ``driver.replay(driver.last_request)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp

from sandbox import slack_payloads
from sandbox.slack import SlackEmulator
from sandbox.slack_blocks import view_errors
from sandbox.slack_respond import apply_response
from sandbox.slack_state import Button, Conversation, Message, ResponseTarget, SlackError, View
from sandbox.slack_workspace import SlackUser

SLACK_ACK_DEADLINE = 3.0
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """Slack's v0 request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    text = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{text}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a form-encoded request body."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, ts, body),
    }


@dataclass(frozen=True)
class SignedRequest:
    """Exactly what was sent, so a test can replay it byte for byte."""

    url: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class DriverResponse:
    """The bot's HTTP answer, how long it took, and what was sent.

    ``rejected`` lists what Slack would have refused in the answer (an invalid ``response_action`` view);
    such parts are not applied to the emulator.
    """

    status: int
    body: str
    headers: dict[str, str]
    elapsed: float
    request: SignedRequest
    payload: dict[str, Any]
    rejected: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        """The answer parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def acked_in_time(self) -> bool:
        """HTTP 200 within Slack's 3-second limit (otherwise the user sees ``operation_timeout``)."""
        return self.status == 200 and self.elapsed < SLACK_ACK_DEADLINE


class SlackDriver:
    """Signs and posts Slack's requests to the bot's ``/slack/events`` endpoint.

    Pass ``session`` to reuse an ``aiohttp.ClientSession`` (it is not closed by the driver); otherwise the
    driver makes one and closes it in ``close()`` / ``async with``. ``timeout`` bounds each request.
    """

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        slack: SlackEmulator,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.slack = slack
        self.timeout = timeout
        self.last_request: SignedRequest | None = None
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the driver's own HTTP session (a session passed in is left open)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- sending ------------------------------------------------------------------------------------

    async def send(
        self,
        form: Mapping[str, str],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """Form-encode, sign and post ``form``; ``timestamp``/``secret``/``headers`` forge the request."""
        body = urlencode(dict(form))
        all_headers = signed_headers(self.signing_secret if secret is None else secret, body, timestamp)
        all_headers.update(headers or {})
        return await self._post(SignedRequest(self.bot_url, body, all_headers))

    async def replay(self, request: SignedRequest) -> DriverResponse:
        """Send a previously sent request again, unchanged (a replay attack, or Slack retrying)."""
        return await self._post(request)

    async def _post(self, request: SignedRequest) -> DriverResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self.last_request = request
        started = time.perf_counter()
        async with self._session.post(
            request.url,
            data=request.body.encode(),
            headers=request.headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        ) as response:
            body = await response.text()
            return DriverResponse(
                status=response.status,
                body=body,
                headers=dict(response.headers),
                elapsed=time.perf_counter() - started,
                request=request,
                payload=_payload_of(request.body),
            )

    # -- helpers ------------------------------------------------------------------------------------

    def _user(self, user_id: str) -> SlackUser:
        user = self.slack.workspace.user(user_id)
        if user is None:
            raise LookupError(f"no user {user_id} in the workspace")
        return user

    def _conversation(self, channel: str) -> Conversation:
        conversation = self.slack.state.conversation(channel)
        if conversation is None:
            raise LookupError(f"no channel {channel} in the workspace")
        return conversation

    @staticmethod
    def _button(buttons: list[Button], action_id: str, value: str | None, where: str) -> Button:
        candidates = [b for b in buttons if b.action_id == action_id]
        if not candidates:
            available = sorted({b.action_id for b in buttons})
            raise LookupError(f"no button {action_id!r} in {where}; buttons there: {available}")
        return next((b for b in candidates if value is not None and b.value == value), candidates[0])

    # -- what users do ------------------------------------------------------------------------------

    async def slash_command(
        self,
        user_id: str,
        text: str,
        *,
        command: str = "/jit",
        channel_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """``user_id`` types ``{command} {text}`` in ``channel_id`` (default: their DM with the bot).

        A non-empty 200 answer is shown the way Slack shows it: ephemeral to the user, or in the
        channel when it says ``response_type: in_channel``.
        """
        user = self._user(user_id)
        conversation = self._conversation(channel_id or self.slack.dm_channel_id(user.id))
        form = slack_payloads.slash_command_form(
            self.slack.workspace,
            user=user,
            conversation=conversation,
            command=command,
            text=text,
            response_url=self.slack.new_response_url(user=user.id, channel=conversation.id),
            trigger_id=self.slack.new_trigger_id(user.id),
        )
        response = await self.send(form, timestamp=timestamp, secret=secret, headers=headers)
        if response.status == 200 and response.body.strip():
            answer = response.json if isinstance(response.json, dict) else {"text": response.body}
            target = ResponseTarget(user.id, conversation.id, None, False, time.monotonic())
            try:
                apply_response(self.slack.state, target, answer, via="ack")
            except SlackError as exc:
                return _with_rejection(response, f"ack body refused: {exc.error}")
        return response

    async def click(
        self,
        user_id: str,
        message: Message,
        action_id: str,
        value: str | None = None,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """``user_id`` clicks the button ``action_id`` on a stored message (its current version).

        ``value`` picks among buttons sharing an action id; if no button has it, it is sent anyway in
        place of the real value (a tampered click). The response URL is bound to the message.
        """
        if message.deleted:
            raise LookupError(f"message {message.ts} was deleted")
        user = self._user(user_id)
        button = self._button(message.buttons(), action_id, value, f"message {message.ts}")
        payload = slack_payloads.message_block_actions(
            self.slack.workspace,
            user=user,
            conversation=self._conversation(message.channel),
            message=message,
            action=slack_payloads.button_action(button, value),
            response_url=self.slack.new_response_url(user=user.id, channel=message.channel, message=message),
            trigger_id=self.slack.new_trigger_id(user.id),
        )
        return await self._send_payload(payload, timestamp=timestamp, secret=secret, headers=headers)

    async def click_in_view(
        self,
        user_id: str,
        view: View,
        action_id: str,
        value: str | None = None,
        *,
        values: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """``user_id`` clicks a button in a modal or App Home view; ``values`` is what is typed so far."""
        user = self._user(user_id)
        button = self._button(view.buttons(), action_id, value, f"view {view.id}")
        payload = slack_payloads.view_block_actions(
            self.slack.workspace,
            user=user,
            view=view,
            action=slack_payloads.button_action(button, value),
            trigger_id=self.slack.new_trigger_id(user.id),
            values=slack_payloads.state_values(view, values),
        )
        return await self._send_payload(payload, timestamp=timestamp, secret=secret, headers=headers)

    async def click_home(
        self,
        user_id: str,
        action_id: str,
        value: str | None = None,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """``user_id`` clicks a button on their App Home tab (which the bot must have published)."""
        home = self.slack.home_for(user_id)
        if home is None:
            raise LookupError(f"no App Home published for {user_id}")
        return await self.click_in_view(
            user_id, home, action_id, value, timestamp=timestamp, secret=secret, headers=headers
        )

    async def submit_view(
        self,
        user_id: str,
        view: View,
        values: Mapping[str, Any] | None = None,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """``user_id`` submits a modal with ``values`` (see ``slack_payloads.state_values``).

        Slack's part is then played on the emulator: ``response_action`` ``errors`` marks the inputs,
        ``update`` replaces the view, ``push`` stacks a new one, ``clear`` closes all; an empty 200 closes
        the view; any other status leaves it open.
        """
        user = self._user(user_id)
        state = slack_payloads.state_values(view, values)
        view.submitted_values = state
        payload = slack_payloads.view_submission(
            self.slack.workspace, user=user, view=view, trigger_id=self.slack.new_trigger_id(user.id), values=state
        )
        response = await self._send_payload(payload, timestamp=timestamp, secret=secret, headers=headers)
        if response.status != 200:
            return response
        return self._apply_view_answer(user, view, response)

    async def close_view(
        self,
        user_id: str,
        view: View,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse | None:
        """``user_id`` closes a modal with its Close button; the bot hears of it only with ``notify_on_close``."""
        user = self._user(user_id)
        self.slack.state.close_modal(view)
        if not view.content.get("notify_on_close"):
            return None
        payload = slack_payloads.view_closed(
            self.slack.workspace, user=user, view=view, values=slack_payloads.state_values(view)
        )
        return await self._send_payload(payload, timestamp=timestamp, secret=secret, headers=headers)

    async def _send_payload(
        self,
        payload: dict[str, Any],
        *,
        timestamp: int | None,
        secret: str | None,
        headers: Mapping[str, str] | None,
    ) -> DriverResponse:
        form = {"payload": json.dumps(payload, separators=(",", ":"))}
        return await self.send(form, timestamp=timestamp, secret=secret, headers=headers)

    def _apply_view_answer(self, user: SlackUser, view: View, response: DriverResponse) -> DriverResponse:
        state = self.slack.state
        answer = response.json if isinstance(response.json, dict) else {}
        action = answer.get("response_action")
        if action == "errors":
            errors = answer.get("errors")
            if not isinstance(errors, dict) or not errors:
                return _with_rejection(response, "response_action errors needs a non-empty errors object")
            state.set_view_errors(view, {str(k): str(v) for k, v in errors.items()})
        elif action in ("update", "push"):
            problems = view_errors(answer.get("view"), kind="modal")
            if problems:
                return _with_rejection(response, *problems)
            if action == "update":
                state.update_view(view, answer["view"])
            elif len(state.modal_stack(user.id)) >= 3:
                return _with_rejection(response, "push_limit_reached")
            else:
                state.push_modal(user.id, answer["view"])
        elif action == "clear":
            state.clear_modals(user.id)
        else:
            state.close_modal(view)
        return response


def _with_rejection(response: DriverResponse, *problems: str) -> DriverResponse:
    return replace(response, rejected=[*response.rejected, *problems])


def _payload_of(body: str) -> dict[str, Any]:
    form = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in form:
        payload: dict[str, Any] = json.loads(form["payload"])
        return payload
    return dict(form)


class SocketModeDriver(SlackDriver):
    """The same user actions as SlackDriver, delivered over Socket Mode envelopes instead of signed HTTP.

    Slack sends Socket Mode payloads unsigned over the app's own websocket, so ``timestamp``/``secret``/``headers``
    have no meaning here; the ack's payload plays the part of the HTTP answer's body.
    """

    def __init__(self, slack: SlackEmulator, *, timeout: float = SLACK_ACK_DEADLINE) -> None:
        super().__init__("socket-mode", "", slack, timeout=timeout)

    async def send(
        self,
        form: Mapping[str, str],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """Deliver ``form`` as a ``slash_commands`` or ``interactive`` envelope and wait for the ack."""
        if "payload" in form:
            kind, payload = "interactive", json.loads(form["payload"])
        else:
            kind, payload = "slash_commands", dict(form)
        started = time.perf_counter()
        answer = await self.slack.socket_mode.deliver(kind, payload, deadline=self.timeout)
        body = json.dumps(answer) if answer else ""
        request = SignedRequest("socket-mode", json.dumps(payload), {})
        self.last_request = request
        return DriverResponse(
            status=200,
            body=body,
            headers={},
            elapsed=time.perf_counter() - started,
            request=request,
            payload=payload,
        )
