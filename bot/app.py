"""The Bolt app: every listener acks first (``process_before_response`` + lazy listeners), then works."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.handlers.commands import CommandHandlers
from bot.handlers.decisions import DecisionHandlers
from bot.handlers.request_form import RequestFormHandlers
from bot.runtime import Runtime


def build_bolt_app(runtime: Runtime) -> AsyncApp:
    """A Bolt AsyncApp wired to the runtime's use cases."""
    settings = runtime.settings
    app = AsyncApp(
        client=runtime.slack,
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=not settings.socket_mode,
        process_before_response=True,
        ignoring_self_events_enabled=True,
    )
    commands = CommandHandlers(runtime)
    app.command("/jit")(ack=commands.ack, lazy=[commands.run])
    decisions = DecisionHandlers(runtime)
    app.action("jit_approve")(ack=decisions.ack, lazy=[decisions.approve])
    app.action("jit_deny")(ack=decisions.ack, lazy=[decisions.deny])
    request_form = RequestFormHandlers(runtime)
    app.view("jit_request_modal")(ack=request_form.ack_submission, lazy=[request_form.submit])
    return app
