"""A security context survives being stored with its request, and a stored value jitbot cannot read never breaks
the card."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from jit.model import VmRef
from jit.security_snapshot import decode, encode
from jit.vm_security import (
    ContextPart,
    DefenderAlert,
    DefenderRecommendation,
    PowerState,
    ReadOutcome,
    SecurityContext,
    SecuritySeverity,
    VmProfile,
    VmRuntime,
)

VM = VmRef(
    "/subscriptions/s/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01",
    "s",
    "rg-web",
    "web-01",
    "westeurope",
)
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def full() -> SecurityContext:
    return SecurityContext(
        vm=VM,
        read_at=AT,
        recommendations=ContextPart.read(
            (
                DefenderRecommendation("Machines should have vulnerability findings resolved", SecuritySeverity.HIGH),
                DefenderRecommendation("Ports «closed»", SecuritySeverity.UNKNOWN),
            )
        ),
        alerts=ContextPart.read(
            (
                DefenderAlert("Suspicious authentication activity", SecuritySeverity.MEDIUM, True, AT),
                DefenderAlert("Mining", SecuritySeverity.HIGH),
            )
        ),
        runtime=ContextPart.read(VmRuntime(PowerState.DEALLOCATED)),
        profile=ContextPart.read(VmProfile(("20.61.10.4", "2001:db8::4"), "Linux")),
    )


def test_a_context_round_trips() -> None:
    context = full()
    assert decode(encode(context)) == context
    running = SecurityContext(
        vm=VM,
        read_at=AT,
        recommendations=ContextPart.read(()),
        alerts=ContextPart.read(()),
        runtime=ContextPart.read(VmRuntime(PowerState.RUNNING, "ubuntu", "24.04")),
        profile=ContextPart.read(VmProfile((), None)),
    )
    assert decode(encode(running)) == running


def test_unread_parts_keep_why() -> None:
    context = SecurityContext(
        vm=VM,
        read_at=AT,
        recommendations=ContextPart.unread(ReadOutcome.REFUSED, "AzureForbidden 403"),
        alerts=ContextPart.unread(ReadOutcome.SLOW, "no answer within 1.5s"),
        runtime=ContextPart.unread(ReadOutcome.FAILED, "AzureUnavailable 500"),
        profile=ContextPart.unread(ReadOutcome.FAILED),
    )
    assert decode(encode(context)) == context


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", "{}", '{"v": 2}', '{"v": 1, "vm": {}}', json.dumps({"v": 1, "vm": None})],
)
def test_what_is_not_a_snapshot_reads_as_none(text: str) -> None:
    assert decode(text) is None


def test_a_damaged_part_makes_the_whole_snapshot_unreadable() -> None:
    document = json.loads(encode(full()))
    document["alerts"]["value"] = [["only a title"]]
    assert decode(json.dumps(document)) is None
    document = json.loads(encode(full()))
    document["at"] = "yesterday"
    assert decode(json.dumps(document)) is None
    document = json.loads(encode(full()))
    document["runtime"] = ["not", "a", "part"]
    assert decode(json.dumps(document)) is None


def test_unknown_words_read_as_unknown_not_as_an_error() -> None:
    document = json.loads(encode(full()))
    document["recommendations"]["value"][0][1] = "critical"
    document["runtime"]["value"][0] = "hibernated"
    document["alerts"] = {"outcome": "vanished", "detail": ""}
    document["profile"] = {"outcome": "read"}
    context = decode(json.dumps(document))
    assert context is not None
    assert context.recommendations.value is not None
    assert context.recommendations.value[0].severity is SecuritySeverity.UNKNOWN
    assert context.runtime.value == VmRuntime(PowerState.UNKNOWN)
    assert context.alerts == ContextPart.unread(ReadOutcome.FAILED)
    assert context.profile == ContextPart.unread(ReadOutcome.FAILED)
