"""Block Kit limits the emulator enforces, so a card real Slack would reject fails in tests too.

Not a full schema: it checks the structure and the documented limits that bots actually trip over (block
counts, text lengths, duplicate ids, button shape, modal title and submit rules). Each problem is reported
the way Slack reports it in ``response_metadata.messages``: a message plus a JSON pointer.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


def _err(pointer: str, message: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _text_errors(obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [_err(pointer, "must be a text object")]
    allowed = {"plain_text"} if plain_only else TEXT_TYPES
    if obj.get("type") not in allowed:
        return [_err(f"{pointer}/type", f"must be one of {sorted(allowed)}")]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [_err(f"{pointer}/text", "must be a non-empty string")]
    if len(text) > max_len:
        return [_err(f"{pointer}/text", f"must be less than {max_len + 1} characters")]
    return []


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [_err(pointer, "must be an element object with a type")]
    errors: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
        errors.append(_err(f"{pointer}/action_id", "must be a string of at most 255 characters"))
    if element["type"] == "button":
        errors += _text_errors(element.get("text"), f"{pointer}/text", max_len=75, plain_only=True)
        value = element.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            errors.append(_err(f"{pointer}/value", "must be a string of at most 2000 characters"))
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(_err(f"{pointer}/style", "must be primary or danger"))
    return errors


def _unique_action_ids(elements: list[Any], pointer: str) -> list[str]:
    seen: set[str] = set()
    errors: list[str] = []
    for i, element in enumerate(elements):
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in seen:
                errors.append(_err(f"{pointer}/{i}/action_id", f"duplicate action_id {action_id!r}"))
            seen.add(action_id)
    return errors


def _block_errors(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict):
        return [_err(pointer, "must be an object")]
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return [_err(f"{pointer}/type", f"unknown block type {kind!r}")]
    errors: list[str] = []
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or not block_id or len(block_id) > 255):
        errors.append(_err(f"{pointer}/block_id", "must be a non-empty string of at most 255 characters"))
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(_err(pointer, "section needs text or fields"))
        if "text" in block:
            errors += _text_errors(block["text"], f"{pointer}/text", max_len=3000)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                errors.append(_err(f"{pointer}/fields", "must be a list of 1 to 10 text objects"))
            else:
                for i, f in enumerate(fields):
                    errors += _text_errors(f, f"{pointer}/fields/{i}", max_len=2000)
        if "accessory" in block:
            errors += _element_errors(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        errors += _text_errors(block.get("text"), f"{pointer}/text", max_len=150, plain_only=True)
    elif kind in ("actions", "context"):
        limit = 25 if kind == "actions" else 10
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= limit:
            errors.append(_err(f"{pointer}/elements", f"must be a list of 1 to {limit} elements"))
        elif kind == "actions":
            for i, element in enumerate(elements):
                errors += _element_errors(element, f"{pointer}/elements/{i}")
            errors += _unique_action_ids(elements, f"{pointer}/elements")
        else:
            for i, element in enumerate(elements):
                if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                    errors += _text_errors(element, f"{pointer}/elements/{i}", max_len=3000)
                elif not isinstance(element, dict) or element.get("type") != "image":
                    errors.append(_err(f"{pointer}/elements/{i}", "must be a text or image element"))
    elif kind == "input":
        errors += _text_errors(block.get("label"), f"{pointer}/label", max_len=2000, plain_only=True)
        errors += _element_errors(block.get("element"), f"{pointer}/element")
    return errors


def blocks_errors(blocks: Any, *, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Everything wrong with a ``blocks`` list, as Slack would list it; empty when Slack would accept it."""
    if not isinstance(blocks, list):
        return [_err(pointer, "must be an array")]
    if len(blocks) > max_blocks:
        return [_err(pointer, f"must contain at most {max_blocks} blocks")]
    errors: list[str] = []
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        errors += _block_errors(block, f"{pointer}/{i}")
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                errors.append(_err(f"{pointer}/{i}/block_id", f"duplicate block_id {block_id!r}"))
            seen.add(block_id)
    return errors


def view_errors(view: Any, *, kind: str) -> list[str]:
    """Everything wrong with a modal (``kind="modal"``) or App Home (``kind="home"``) view payload."""
    if not isinstance(view, dict):
        return [_err("/view", "must be an object")]
    if view.get("type") != kind:
        return [_err("/view/type", f"must be {kind!r}")]
    errors = blocks_errors(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    if kind == "modal":
        errors += _text_errors(view.get("title"), "/view/title", max_len=24, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                errors += _text_errors(view[key], f"/view/{key}", max_len=24, plain_only=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            errors.append(_err("/view/submit", "is required when the view has input blocks"))
    metadata = view.get("private_metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) > 3000):
        errors.append(_err("/view/private_metadata", "must be a string of at most 3000 characters"))
    callback_id = view.get("callback_id")
    if callback_id is not None and (not isinstance(callback_id, str) or len(callback_id) > 255):
        errors.append(_err("/view/callback_id", "must be a string of at most 255 characters"))
    return errors
