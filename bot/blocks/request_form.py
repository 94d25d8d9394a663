"""The form `/jit` alone opens: the same request as the command, field by field, checked by the same grammar.

Mistakes the grammar finds are shown by Slack under their inputs (``parse_request_form``). Once the form is well
formed it is checked against the VM's policy and the rules after the ack; a refusal brings the form back with
everything typed still in it, the refusal on top and a note under each field the suggested request changes
(``request_form_modal(typed=…, refusal=…, notes=…)``, ``field_notes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.blocks.common import MAX_VIEW_BLOCKS, Message, context, divider, escape_mrkdwn, one_line, plain, render
from bot.blocks.hints import ports_word
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
from jit.durations import humanize
from jit.hints import Command, CommandHint, Hint

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


FIELDS = (PORTS_BLOCK, VM_BLOCK, DURATION_BLOCK, SOURCE_BLOCK, REASON_BLOCK)
"""The inputs, in the order of the form."""


def request_form_modal(
    *,
    vm: str | None = None,
    default_source: str | None = None,
    typed: Mapping[str, str] | None = None,
    refusal: Message | None = None,
    notes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The request modal; ``vm`` pre-fills the VM field, ``default_source`` is shown as what "from" defaults to.
    After a refusal: ``typed`` (by block id) fills every input with what was typed, ``refusal`` goes on top and
    ``notes`` (by block id) under the inputs they concern."""
    filled = dict(typed or {})
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
            initial=filled.get(PORTS_BLOCK, "ssh"),
            max_length=200,
        ),
        _input(
            VM_BLOCK,
            "VM",
            "Its name, or resource-group/name when the name is used more than once.",
            initial=filled.get(VM_BLOCK, vm),
            max_length=300,
            placeholder="web-01",
        ),
        _input(
            DURATION_BLOCK,
            "For how long",
            "90m, 2h, 1h30m or PT2H; 5 minutes to 24 hours.",
            initial=filled.get(DURATION_BLOCK, "1h"),
            max_length=32,
        ),
        _input(
            SOURCE_BLOCK,
            "From",
            source_hint,
            initial=filled.get(SOURCE_BLOCK),
            optional=True,
            max_length=60,
            placeholder="203.0.113.7",
        ),
        _input(
            REASON_BLOCK,
            "Reason",
            "What you will do; include the ticket number if your team needs one.",
            initial=filled.get(REASON_BLOCK),
            optional=True,
            multiline=True,
            max_length=MAX_REASON_CHARS,
        ),
        context("Approvers see this request in the approval channel; you get a DM when it is decided."),
    ]
    for block_id, note in (notes or {}).items():
        at = next(i for i, b in enumerate(blocks) if b.block_id == block_id)
        blocks.insert(at + 1, context(f":point_up: {note}"))
    if refusal is not None:
        blocks = [*parse_blocks(refusal.blocks), divider(), *blocks]
    view = View(
        type="modal",
        callback_id=REQUEST_CALLBACK_ID,
        title=plain("Request JIT access", 24),
        submit=plain("Request", 24),
        close=plain("Cancel", 24),
        blocks=render(blocks, MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


def typed_values(view_state: Mapping[str, Any]) -> dict[str, str]:
    """What was typed into each input (empty ones left out), to fill the form again after a refusal."""
    return {block: text for block in FIELDS if (text := _text(view_state, block))}


def field_notes(command: RequestAccess, hint: Hint | None) -> dict[str, str]:
    """For each input a refusal's suggestion changes: a short note with the value that would pass."""
    if isinstance(hint, CommandHint):
        return {VM_BLOCK: "Check the VM's name: `/jit list` shows them."} if hint.command is Command.LIST else {}
    if hint is None:
        return {}
    notes: dict[str, str] = {}
    if hint.ports != command.ports:
        notes[PORTS_BLOCK] = f"Try `{ports_word(hint.ports)}`."
    if hint.vm != command.vm:
        notes[VM_BLOCK] = f"Try `{code_text(hint.vm)}`."
    if hint.duration != command.duration:
        notes[DURATION_BLOCK] = f"Try `{humanize(hint.duration).replace(' ', '')}`."
    if hint.source != command.source and hint.source:
        notes[SOURCE_BLOCK] = f"Try `{code_text(hint.source)}`."
    if hint.reason != command.reason:
        notes[REASON_BLOCK] = f"Try: `{code_text(hint.reason)}`." if hint.reason else "Change the reason."
    return notes


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


def code_text(value: str) -> str:
    """``value`` safe inside a mrkdwn code span."""
    return escape_mrkdwn(one_line(value).replace("`", "'"))[:200]


def parse_blocks(raw: list[dict[str, Any]]) -> list[Block]:
    """A message's rendered blocks as slack_sdk blocks again, to put them into a view."""
    return [block for block in (Block.parse(b) for b in raw) if block is not None]
