"""Helpers for the portal tests: Events API deliveries the driver does not send, and reading the emulator."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from jit.clock import Clock
from sandbox.arm_inventory import Inventory, NetworkSecurityGroup, Subscription, VirtualMachine
from sandbox.slack_driver import DriverResponse, SignedRequest, signed_headers
from sandbox.slack_state import Message, View
from sandbox.stack import Stack, StackOptions


@contextlib.asynccontextmanager
async def running_stack(
    redis_url: str, *, inventory: Inventory | None = None, clock: Clock | None = None
) -> AsyncIterator[Stack]:
    """A stack over ``inventory`` (the demo one by default); closing it lets acked work finish first."""
    async with Stack(StackOptions(inventory=inventory, redis_url=redis_url, clock=clock)) as stack:
        yield stack


async def open_home(stack: Stack, user: str) -> DriverResponse:
    """``user`` opens the app's Home tab: a signed ``app_home_opened`` event, as the Events API sends it."""
    assert stack.driver is not None
    workspace = stack.slack.workspace
    body = json.dumps(
        {
            "token": workspace.verification_token,
            "team_id": workspace.team_id,
            "api_app_id": workspace.bot.app_id,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(6).upper()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": stack.slack.dm_channel_id(user),
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "authorizations": [{"team_id": workspace.team_id, "user_id": workspace.bot.user_id, "is_bot": True}],
        }
    )
    headers = signed_headers(stack.signing_secret, body)
    headers["Content-Type"] = "application/json"
    return await stack.driver.replay(SignedRequest(stack.driver.bot_url, body, headers))


async def home_of(stack: Stack, user: str, predicate: Any = None) -> View:
    """``user``'s published Home once it exists (and satisfies ``predicate(text)`` when given)."""

    def ready() -> View | None:
        home = stack.slack.home_for(user)
        if home is None or (predicate is not None and not predicate(view_text(home))):
            return None
        return home

    return await stack.slack.wait_until(ready)


def view_text(view: View) -> str:
    """Every piece of text in a view's blocks, for asserting what a person would read."""
    return blocks_text(view.blocks)


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    """Every ``text`` string in some blocks, joined by newlines."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            text = node.get("text")
            if isinstance(text, str):
                found.append(text)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)


async def new_ephemeral(stack: Stack, user: str, seen: int) -> Message:
    """The first ephemeral shown to ``user`` after the ``seen`` they already had."""
    messages = await stack.slack.wait_until(lambda: stack.slack.ephemerals_for(user)[seen:])
    return messages[0]


async def top_view(stack: Stack, user: str, callback_id: str) -> View:
    """The modal on top of ``user``'s stack once it has ``callback_id``."""

    def ready() -> View | None:
        views = stack.slack.views_for(user)
        return views[-1] if views and views[-1].callback_id == callback_id else None

    return await stack.slack.wait_until(ready)


def policy_entries(stack: Stack) -> dict[str, str]:
    """Every VM entry of every JIT policy in the emulator, as canonical JSON keyed by lower-cased VM id."""
    return {
        str(entry["id"]).lower(): json.dumps(entry, sort_keys=True)
        for policy in stack.arm.inventory.policies
        for entry in policy.virtual_machines
    }


def vm_id(stack: Stack, name: str) -> str:
    """The ARM id of the emulator's VM called ``name``."""
    return stack.arm.inventory.vm(name).id.lower()


BIG_SUB = "5b1e7c2a-0d4f-4a8e-9b3c-7f6e5d4c3b2a"
BIG_COUNT = 25


def big_inventory() -> Inventory:
    """25 VMs without JIT over three resource groups and two regions, plus one configured-able with no NSG."""
    vms = [
        VirtualMachine(
            BIG_SUB,
            f"rg-{i % 3}",
            f"app-{i:02d}",
            "northeurope" if i % 2 == 0 else "westeurope",
            nic_nsg=f"nsg-{i % 3}",
            private_ip=f"10.9.{i}.4",
        )
        for i in range(BIG_COUNT)
    ]
    vms.append(VirtualMachine(BIG_SUB, "rg-0", "naked", "westeurope", private_ip="10.9.99.4"))
    return Inventory(
        subscriptions=[Subscription(BIG_SUB, "Big")],
        vms=vms,
        nsgs=[NetworkSecurityGroup(BIG_SUB, f"rg-{k}", f"nsg-{k}", "westeurope") for k in range(3)],
    )
