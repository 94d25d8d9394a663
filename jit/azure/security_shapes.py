"""Azure's JSON for a VM's security context, read into jitbot's types; tolerant of missing or unexpected fields.

Rules, from the vendored swaggers (``sandbox/specs``): an assessment is a recommendation to act on when its
``status.code`` is ``Unhealthy``; its severity is ``metadata.severity`` (Low, Medium, High). An alert is about the
VM when one of its ``resourceIdentifiers`` of type ``AzureResource`` names the VM's id (``compromisedEntity`` is only a
display name); it is open while its status is ``Active`` or ``InProgress``. The power state is the instance view
status whose code starts with ``PowerState/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from jit.vm_security import DefenderAlert, DefenderRecommendation, PowerState, SecuritySeverity, VmRuntime

UNHEALTHY = "unhealthy"
OPEN_ALERT_STATUSES = frozenset({"active", "inprogress"})
POWER_PREFIX = "powerstate/"
_FAR_PAST = datetime.min.replace(tzinfo=UTC)


def _props(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    props = raw.get("properties")
    return props if isinstance(props, Mapping) else {}


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def severity(value: Any) -> SecuritySeverity:
    """Azure's severity word (any case) as a SecuritySeverity; anything else is UNKNOWN."""
    try:
        return SecuritySeverity(_text(value).lower())
    except ValueError:
        return SecuritySeverity.UNKNOWN


def unhealthy_assessments(assessments: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The unhealthy assessments of a list: assessment key (lower-cased) → recommendation title."""
    found: dict[str, str] = {}
    for raw in assessments:
        props = _props(raw)
        status = props.get("status")
        code = _text(status.get("code")) if isinstance(status, Mapping) else ""
        key = _text(raw.get("name")).lower()
        if code.lower() == UNHEALTHY and key:
            found[key] = _text(props.get("displayName")) or key
    return found


def assessment_severity(assessment: Mapping[str, Any]) -> SecuritySeverity:
    """The severity in an assessment read with ``$expand=metadata``; UNKNOWN when Azure sent none."""
    metadata = _props(assessment).get("metadata")
    return severity(metadata.get("severity")) if isinstance(metadata, Mapping) else SecuritySeverity.UNKNOWN


def recommendations(
    unhealthy: Mapping[str, str], severities: Mapping[str, SecuritySeverity]
) -> tuple[DefenderRecommendation, ...]:
    """Unhealthy recommendations, most severe first, then by title."""
    found = [
        DefenderRecommendation(title, severities.get(key, SecuritySeverity.UNKNOWN)) for key, title in unhealthy.items()
    ]
    return tuple(sorted(found, key=lambda r: (r.severity.rank, r.title.lower())))


def _time(value: Any) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _resources(alert: Mapping[str, Any]) -> set[str]:
    """The lower-cased ids of the Azure resources an alert is about (its ``AzureResource`` identifiers)."""
    identifiers = _props(alert).get("resourceIdentifiers")
    if not isinstance(identifiers, list):
        return set()
    return {
        _text(item.get("azureResourceId")).lower().rstrip("/")
        for item in identifiers
        if isinstance(item, Mapping)
        and _text(item.get("type")).lower() == "azureresource"
        and _text(item.get("azureResourceId"))
    }


def open_alerts_by_resource(alerts: Iterable[Mapping[str, Any]]) -> dict[str, tuple[DefenderAlert, ...]]:
    """The open alerts of a list, by the lower-cased id of each Azure resource they name, most severe first, then
    newest first."""
    found: dict[str, list[DefenderAlert]] = {}
    for raw in alerts:
        props = _props(raw)
        status = _text(props.get("status")).lower()
        if status not in OPEN_ALERT_STATUSES:
            continue
        alert = DefenderAlert(
            title=_text(props.get("alertDisplayName")) or _text(props.get("alertType")) or "Security alert",
            severity=severity(props.get("severity")),
            in_progress=status == "inprogress",
            since=_time(props.get("startTimeUtc")) or _time(props.get("timeGeneratedUtc")),
        )
        for resource in _resources(raw):
            found.setdefault(resource, []).append(alert)
    return {
        resource: tuple(sorted(listed, key=lambda a: (a.severity.rank, -(a.since or _FAR_PAST).timestamp())))
        for resource, listed in found.items()
    }


def graph_runtime(power_code: str, os_name: str, os_version: str) -> VmRuntime:
    """Power state and reported OS from Resource Graph's copy of the instance view
    (``properties.extended.instanceView``: ``powerState.code``, ``osName``, ``osVersion``)."""
    return runtime({"statuses": [{"code": power_code}], "osName": os_name, "osVersion": os_version})


def runtime(instance_view: Mapping[str, Any]) -> VmRuntime:
    """Power state and reported OS from an instance view; UNKNOWN power when no ``PowerState/`` status is there."""
    power = PowerState.UNKNOWN
    for status in instance_view.get("statuses") or ():
        code = _text(status.get("code")).lower() if isinstance(status, Mapping) else ""
        if code.startswith(POWER_PREFIX):
            try:
                power = PowerState(code.removeprefix(POWER_PREFIX))
            except ValueError:
                power = PowerState.UNKNOWN
    return VmRuntime(power, _text(instance_view.get("osName")) or None, _text(instance_view.get("osVersion")) or None)
