"""The Bolt app: every listener acks first (``process_before_response`` + lazy listeners), then works."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.ackpath.lazy_listeners import run_lazy_listeners_ack_first
from bot.blocks.deny_modal import DENY_CALLBACK_ID
from bot.blocks.home import CANCEL_ACTION
from bot.blocks.inventory import ENABLE_ACTION, LIST_MORE_ACTION, LIST_TAB_ACTION_PATTERN
from bot.blocks.policy_modal import DISABLE_CALLBACK_ID, POLICY_CALLBACK_ID
from bot.handlers.admin import AdminFlows
from bot.handlers.commands import CommandHandlers
from bot.handlers.decisions import DecisionHandlers
from bot.handlers.home import HomeHandlers, PendingCancel
from bot.handlers.inventory import InventoryHandlers
from bot.handlers.lifecycle import (
    ACK_REVIEW_ACTION,
    EXTEND_ACTION,
    REREQUEST_ACTION,
    REVOKE_ACTION,
    LifecycleHandlers,
)
from bot.handlers.limits import InteractionLimit
from bot.handlers.request_form import RequestFormHandlers
from bot.respond import install_session_respond
from bot.runtime import Runtime
from jit.settings import Settings


def bolt_client(settings: Settings) -> AsyncWebClient:
    """Bolt's own client (its one ``auth.test``); handlers use ``runtime.slack``.

    Bolt deep-copies its client into every lazy listener's request, which a client holding an HTTP session
    (like ``runtime.slack``) cannot survive, so Bolt gets a session-less one.
    """
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10)


def build_bolt_app(runtime: Runtime) -> AsyncApp:
    """A Bolt AsyncApp wired to the runtime's use cases."""
    settings = runtime.settings
    app = AsyncApp(
        client=bolt_client(settings),
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=False,  # bot.ackpath checks every HTTP request; Socket Mode needs none
        process_before_response=True,
        ignoring_self_events_enabled=True,
    )
    run_lazy_listeners_ack_first(app, runtime.in_flight, runtime.background_work)
    install_session_respond(app, lambda: runtime.slack.session)
    commands = CommandHandlers(runtime)
    app.command("/jit")(ack=commands.ack, lazy=[commands.run])
    limit = InteractionLimit(runtime)
    decisions = DecisionHandlers(runtime)
    app.action("jit_approve")(ack=decisions.ack, lazy=[limit.click(decisions.approve)])
    app.action("jit_deny")(ack=decisions.ack, lazy=[limit.click(decisions.deny)])
    app.view_submission(DENY_CALLBACK_ID)(
        ack=decisions.ack_deny, lazy=[limit.submission(decisions.deny_submitted, decisions.refuse_submission)]
    )
    request_form = RequestFormHandlers(runtime)
    app.view("jit_request_modal")(
        ack=request_form.ack_submission, lazy=[limit.submission(request_form.submit, request_form.refuse)]
    )
    lifecycle = LifecycleHandlers(runtime)
    app.action(EXTEND_ACTION)(ack=lifecycle.ack, lazy=[limit.click(lifecycle.extend_clicked)])
    app.action(REVOKE_ACTION)(ack=lifecycle.ack, lazy=[limit.click(lifecycle.revoke_clicked)])
    app.action(ACK_REVIEW_ACTION)(ack=lifecycle.ack, lazy=[limit.click(lifecycle.review_clicked)])
    app.action(REREQUEST_ACTION)(ack=lifecycle.ack, lazy=[limit.click(lifecycle.ask_again_clicked)])
    _register_portal(app, runtime, limit)
    return app


def _register_portal(app: AsyncApp, runtime: Runtime, limit: InteractionLimit) -> None:
    """The portal's JIT page in Slack: inventory paging, Enable JIT, the policy modals and App Home."""
    admin = runtime.admin
    home = runtime.home
    inventory = InventoryHandlers(runtime, admin)
    app.action(LIST_TAB_ACTION_PATTERN)(ack=inventory.ack, lazy=[limit.click(inventory.page)])
    app.action(LIST_MORE_ACTION)(ack=inventory.ack, lazy=[limit.click(inventory.page)])
    flows = AdminFlows(runtime, admin, home)
    app.action(ENABLE_ACTION)(ack=flows.ack_click, lazy=[limit.click(flows.enable_clicked)])
    app.view_submission(POLICY_CALLBACK_ID)(
        ack=flows.ack_policy, lazy=[limit.submission(flows.save_policy, flows.refuse_submission)]
    )
    app.view_submission(DISABLE_CALLBACK_ID)(
        ack=flows.ack_disable, lazy=[limit.submission(flows.confirm_disable, flows.refuse_submission)]
    )
    homes = HomeHandlers(home)
    app.event("app_home_opened")(ack=homes.ack, lazy=[homes.opened])
    cancels = PendingCancel(runtime)
    app.action(CANCEL_ACTION)(ack=cancels.ack, lazy=[limit.click(cancels.clicked)])
