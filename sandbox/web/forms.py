"""What a person typed into a modal on the page, turned into Slack's ``view.state.values``.

Why: the page knows inputs by block id and action id (a policy form repeats the same action id in every
port row, so action ids alone are ambiguous). Every stateful element of the view is included, with its
initial value when the page sent nothing for it, exactly as Slack does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.slack_payloads import element_state
from sandbox.slack_state import View, interactive_elements

_NOT_STATEFUL = frozenset({"button", "overflow", "workflow_button", "feedback_buttons", "icon_button"})


class FormError(ValueError):
    """The page sent something that cannot belong to this view."""


def _entered_value(raw: Any) -> Any:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return raw
    raise FormError("input values must be strings or lists of strings")


def form_state(view: View, entered: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{block_id: {action_id: {...}}}`` for every stateful element; ``entered`` is keyed the same way."""
    given = dict(entered or {})
    known: set[tuple[str, str]] = set()
    result: dict[str, Any] = {}
    for block_id, element in interactive_elements(view.blocks):
        if element.get("type") in _NOT_STATEFUL:
            continue
        action_id = str(element.get("action_id", ""))
        known.add((block_id, action_id))
        block_values = given.get(block_id)
        provided = isinstance(block_values, Mapping) and action_id in block_values
        value = _entered_value(block_values[action_id]) if provided and isinstance(block_values, Mapping) else None
        result.setdefault(block_id, {})[action_id] = element_state(element, value, provided=provided)
    for block_id, block_values in given.items():
        if not isinstance(block_values, Mapping):
            raise FormError(f"values for block {block_id!r} must be an object")
        unknown = [a for a in block_values if (block_id, a) not in known]
        if unknown:
            raise FormError(f"no input {unknown[0]!r} in block {block_id!r} of this view")
    return result
