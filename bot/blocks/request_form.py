"""The form `/jit` alone opens: the same request as the command, field by field, checked by the same grammar."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.blocks.common import MAX_VIEW_BLOCKS, context, plain, render
from bot.grammar import (
    MAX_REASON_CHARS,
    GrammarError,
    RequestAccess,
    clean_reason,
    means_from_me,
    parse_ports,
    parse_source,
    parse_vm,
    parse_window,
)

REQUEST_CALLBACK_ID = "jit_request_modal"
PORTS_BLOCK = "request_ports"
VM_BLOCK = "request_vm"
DURATION_BLOCK = "request_duration"
SOURCE_BLOCK = "request_source"
REASON_BLOCK = "request_reason"
VALUE_ACTION = "value"


def _input(
    block: str,
    label: str,
    hint: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    multiline: bool = False,
    max_length: int = 200,
    placeholder: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block,
        label=plain(label, 2000),
        hint=plain(hint, 2000),
        optional=optional,
        element=PlainTextInputElement(
            action_id=VALUE_ACTION,
            initial_value=initial,
            multiline=multiline,
            max_length=max_length,
            placeholder=plain(placeholder, 150) if placeholder else None,
        ),
    )


def request_form_modal(*, vm: str | None = None, default_source: str | None = None) -> dict[str, Any]:
    """The request modal; ``vm`` pre-fills the VM field, ``default_source`` is shown as what "from" defaults to."""
    source_hint = (
        f"One IP or CIDR range, or me to confirm your address on a web page. Leave empty for {default_source}."
        if default_source
        else "One IP or CIDR range, or me to confirm your address on a web page. Leave empty for the default."
    )
    blocks: list[Block] = [
        _input(
            PORTS_BLOCK,
            "Ports",
            "ssh, rdp, winrm, port numbers, or a comma list like ssh,8080.",
            initial="ssh",
            max_length=200,
        ),
        _input(
            VM_BLOCK,
            "VM",
            "Its name, or resource-group/name when the name is used more than once.",
            initial=vm,
            max_length=300,
            placeholder="web-01",
        ),
        _input(
            DURATION_BLOCK,
            "For how long",
            "90m, 2h, 1h30m or PT2H; 5 minutes to 24 hours.",
            initial="1h",
            max_length=32,
        ),
        _input(SOURCE_BLOCK, "From", source_hint, optional=True, max_length=60, placeholder="203.0.113.7"),
        _input(
            REASON_BLOCK,
            "Reason",
            "What you will do; include the ticket number if your team needs one.",
            optional=True,
            multiline=True,
            max_length=MAX_REASON_CHARS,
        ),
        context("Approvers see this request in the approval channel; you get a DM when it is decided."),
    ]
    view = View(
        type="modal",
        callback_id=REQUEST_CALLBACK_ID,
        title=plain("Request JIT access", 24),
        submit=plain("Request", 24),
        close=plain("Cancel", 24),
        blocks=render(blocks, MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


def _text(view_state: Mapping[str, Any], block: str) -> str:
    values = view_state.get("values", view_state) if isinstance(view_state, Mapping) else {}
    entry = values.get(block) if isinstance(values, Mapping) else None
    element = entry.get(VALUE_ACTION) if isinstance(entry, Mapping) else None
    value = element.get("value") if isinstance(element, Mapping) else None
    return value if isinstance(value, str) else ""


def parse_request_form(view_state: Mapping[str, Any]) -> RequestAccess | dict[str, str]:
    """The submitted request, or ``{block_id: message}`` for Slack's ``response_action: errors``."""
    errors: dict[str, str] = {}
    ports: tuple[int, ...] = ()
    vm = ""
    duration = timedelta(0)
    source: str | None = None
    from_me = False
    try:
        ports = parse_ports(_text(view_state, PORTS_BLOCK))
    except GrammarError as error:
        errors[PORTS_BLOCK] = _inline(error)
    try:
        vm = parse_vm(_text(view_state, VM_BLOCK))
    except GrammarError as error:
        errors[VM_BLOCK] = _inline(error)
    try:
        duration = parse_window(_text(view_state, DURATION_BLOCK))
    except GrammarError as error:
        errors[DURATION_BLOCK] = _inline(error)
    source_text = _text(view_state, SOURCE_BLOCK).strip()
    if source_text and means_from_me(source_text):
        from_me = True
    elif source_text:
        try:
            source = parse_source(source_text)
        except GrammarError as error:
            errors[SOURCE_BLOCK] = _inline(error)
    reason = clean_reason(_text(view_state, REASON_BLOCK))
    if len(reason) > MAX_REASON_CHARS:
        errors[REASON_BLOCK] = f"Keep the reason under {MAX_REASON_CHARS} characters."
    if errors:
        return errors
    return RequestAccess(ports=ports, vm=vm, duration=duration, source=source, reason=reason, from_me=from_me)


def _inline(error: GrammarError) -> str:
    return error.problem.replace("`", "")
