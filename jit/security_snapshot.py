"""A SecurityContext as one JSON string and back, so the approval card can show the context as it was when the
request was made every time the card is drawn again (approved, expired, revoked), without reading Azure again.

``encode`` writes compact JSON; ``decode`` never raises: text it cannot read (another version, a damaged value)
gives None, and values it does not know (a new severity, power state or outcome) read as unknown or failed, so an
old or odd snapshot can only make the card say less, never break it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from jit.model import VmRef
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

VERSION = 1
E = TypeVar("E", SecuritySeverity, PowerState, ReadOutcome)
V = TypeVar("V")


def encode(context: SecurityContext) -> str:
    """The context as compact JSON."""
    recommendations = context.recommendations.value
    alerts = context.alerts.value
    runtime = context.runtime.value
    profile = context.profile.value
    document = {
        "v": VERSION,
        "vm": {
            "id": context.vm.id,
            "sub": context.vm.subscription_id,
            "rg": context.vm.resource_group,
            "name": context.vm.name,
            "loc": context.vm.location,
        },
        "at": context.read_at.isoformat(),
        "recommendations": _part(
            context.recommendations,
            None if recommendations is None else [[r.title, r.severity.value] for r in recommendations],
        ),
        "alerts": _part(
            context.alerts,
            None
            if alerts is None
            else [[a.title, a.severity.value, a.in_progress, a.since.isoformat() if a.since else None] for a in alerts],
        ),
        "runtime": _part(
            context.runtime, None if runtime is None else [runtime.power.value, runtime.os_name, runtime.os_version]
        ),
        "profile": _part(context.profile, None if profile is None else [list(profile.public_ips), profile.os_type]),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _part(part: ContextPart[Any], value: Any) -> dict[str, Any]:
    if part.outcome is ReadOutcome.READ:
        return {"value": value}
    return {"outcome": part.outcome.value, "detail": part.detail}


def decode(text: str) -> SecurityContext | None:
    """The context ``encode`` wrote; None when ``text`` is not one."""
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("v") != VERSION:
            return None
        vm = document["vm"]
        return SecurityContext(
            vm=VmRef(str(vm["id"]), str(vm["sub"]), str(vm["rg"]), str(vm["name"]), str(vm["loc"])),
            read_at=datetime.fromisoformat(str(document["at"])),
            recommendations=_read(document["recommendations"], _recommendations),
            alerts=_read(document["alerts"], _alerts),
            runtime=_read(document["runtime"], _runtime),
            profile=_read(document["profile"], _profile),
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _read(raw: Mapping[str, Any], value: Callable[[Any], V]) -> ContextPart[V]:
    if "value" in raw:
        return ContextPart.read(value(raw["value"]))
    outcome = _enum(ReadOutcome, raw.get("outcome"), ReadOutcome.FAILED)
    if outcome is ReadOutcome.READ:
        outcome = ReadOutcome.FAILED
    return ContextPart.unread(outcome, str(raw.get("detail") or ""))


def _enum(kind: type[E], value: Any, fallback: E) -> E:
    try:
        return kind(value)
    except ValueError:
        return fallback


def _recommendations(raw: list[Any]) -> tuple[DefenderRecommendation, ...]:
    return tuple(
        DefenderRecommendation(str(title), _enum(SecuritySeverity, severity, SecuritySeverity.UNKNOWN))
        for title, severity in raw
    )


def _alerts(raw: list[Any]) -> tuple[DefenderAlert, ...]:
    return tuple(
        DefenderAlert(
            str(title),
            _enum(SecuritySeverity, severity, SecuritySeverity.UNKNOWN),
            bool(in_progress),
            datetime.fromisoformat(since) if since else None,
        )
        for title, severity, in_progress, since in raw
    )


def _runtime(raw: list[Any]) -> VmRuntime:
    power, os_name, os_version = raw
    return VmRuntime(
        _enum(PowerState, power, PowerState.UNKNOWN),
        str(os_name) if os_name else None,
        str(os_version) if os_version else None,
    )


def _profile(raw: list[Any]) -> VmProfile:
    public_ips, os_type = raw
    return VmProfile(tuple(str(ip) for ip in public_ips), str(os_type) if os_type else None)
