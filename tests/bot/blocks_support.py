"""Sample domain values and Block Kit checks shared by the builder tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.blocks.common import Message
from jit.model import AccessRequest, RequestState, VmRef

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
REQUESTER = "U0REQUEST1"
APPROVER = "U0APPROVE1"
HOSTILE = "<!channel> <@U0EVIL123> <https://evil.example|docs> & <#C0CHAN> <!subteam^S123>"
HOSTILE_RAW_TOKENS = ("<!channel>", "<@U0EVIL123>", "<https://evil.example", "<#C0CHAN>", "<!subteam^S123>")


def vm_ref(name: str = "web-01", rg: str = "prod-rg", location: str = "westeurope", sub: str = SUB) -> VmRef:
    """A VmRef with a realistic resource id."""
    return VmRef(
        id=f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}",
        subscription_id=sub,
        resource_group=rg,
        name=name,
        location=location,
    )


def access_request(**changes: Any) -> AccessRequest:
    """A pending request for ssh on web-01; keyword arguments override fields."""
    values: dict[str, Any] = {
        "id": "jr-4kQ9xZ2mP7sT",
        "requester": REQUESTER,
        "vm": vm_ref(),
        "ports": (22,),
        "source": "203.0.113.7",
        "duration": timedelta(hours=2),
        "reason": "fixing deploy",
        "state": RequestState.PENDING,
        "created_at": NOW - timedelta(minutes=3),
    }
    values.update(changes)
    return AccessRequest(**values)


def decided(state: RequestState, **changes: Any) -> AccessRequest:
    """A request in a later state, with the facts that state normally has."""
    base: dict[str, Any] = {"state": state, "approver": APPROVER, "decided_at": NOW}
    if state in (RequestState.ACTIVE, RequestState.EXPIRED, RequestState.REVOKED, RequestState.APPROVED):
        base |= {"starts_at": NOW, "ends_at": NOW + timedelta(hours=2), "approvals": (APPROVER,)}
    if state is RequestState.FAILED:
        base |= {"failure": "Azure refused: port 22 is not in the VM's JIT policy."}
    if state in (RequestState.TIMED_OUT, RequestState.CANCELLED):
        base["approver"] = None
    base.update(changes)
    return access_request(**base)


def walk(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every dict inside a Block Kit structure."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from walk(item)


def buttons(blocks: Any) -> list[Mapping[str, Any]]:
    """Every button element."""
    return [node for node in walk(blocks) if node.get("type") == "button"]


def texts(blocks: Any) -> list[str]:
    """Every text string a person could see (text objects' ``text``)."""
    return [
        node["text"]
        for node in walk(blocks)
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str)
    ]


def all_text(message: Message) -> str:
    """The fallback text and every visible text of a message, joined."""
    return "\n".join([message.text, *texts(message.blocks)])


def check_blocks(blocks: list[dict[str, Any]], limit: int = 50) -> None:
    """Blocks slack_sdk accepts again, within limits, verbatim mrkdwn, unique block ids and action ids per block."""
    assert 0 < len(blocks) <= limit
    block_ids = [raw["block_id"] for raw in blocks if "block_id" in raw]
    assert len(block_ids) == len(set(block_ids)), f"duplicate block ids (Slack refuses them): {block_ids}"
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None
        assert parsed.to_dict() == raw
        ids = [node["action_id"] for node in walk(raw) if "action_id" in node]
        assert len(ids) == len(set(ids)), f"duplicate action ids in {raw}"
    for node in walk(blocks):
        if node.get("type") == "mrkdwn":
            assert node.get("verbatim") is True
            assert 1 <= len(node["text"]) <= 3000
        if node.get("type") == "header":
            assert len(node["text"]["text"]) <= 150
        if node.get("type") == "button":
            assert len(node.get("value", "")) <= 2000
            assert len(node["text"]["text"]) <= 75
    for field_list in (node["fields"] for node in walk(blocks) if node.get("type") == "section" and "fields" in node):
        assert len(field_list) <= 10
        assert all(len(f["text"]) <= 2000 for f in field_list)


def check_message(message: Message) -> None:
    """A message is valid Block Kit with a non-empty notification text."""
    assert message.text.strip()
    assert len(message.text) <= 3000
    check_blocks(message.blocks)


def check_view(view: Mapping[str, Any]) -> None:
    """A modal or Home view slack_sdk accepts, within the 100-block limit."""
    rebuilt = View(**{k: v for k, v in view.items()})
    assert rebuilt.to_dict() == view
    check_blocks(list(view["blocks"]), limit=100)


def assert_literal(message_text: str) -> None:
    """No hostile token survives unescaped; each shows up escaped instead."""
    for token in HOSTILE_RAW_TOKENS:
        assert token not in message_text
    assert "&lt;!channel&gt;" in message_text
    assert "&lt;@U0EVIL123&gt;" in message_text
    assert "&lt;https://evil.example|docs&gt;" in message_text


def state_from_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """What Slack would submit for a view nobody edited: each input's initial value, as ``view.state``."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        entry: dict[str, Any] = {"type": element["type"]}
        if element["type"] == "plain_text_input":
            entry["value"] = element.get("initial_value")
        elif element["type"] == "static_select":
            entry["selected_option"] = element.get("initial_option")
        elif element["type"] == "checkboxes":
            entry["selected_options"] = element.get("initial_options", [])
        values[block["block_id"]] = {element["action_id"]: entry}
    return {"values": values}


def set_value(state: dict[str, Any], block_id: str, value: Any, key: str = "value") -> None:
    """Change what the user typed (or chose) in one input of a submitted state."""
    state["values"][block_id]["value"][key] = value
