"""Azure's JIT policy JSON, read into our types and edited without losing anything we do not understand.

A policy PUT replaces the whole VM list, so the entries of the other VMs are carried over as the exact JSON
Azure gave us; only the entry of the VM being changed is rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jit.durations import DurationError, parse_duration, to_iso8601
from jit.justification import parse_justification
from jit.model import (
    ANY_SOURCE,
    DEFAULT_MAX_ACCESS,
    GrantedPort,
    InitiateResult,
    JitActivity,
    JitPolicy,
    JitRequestRecord,
    PolicyPort,
    PortProtocol,
)
from jit.resource_ids import id_segments, parse_time, same_id

RawJson = dict[str, Any]
ACTIVITY_WINDOW = timedelta(days=7)
DEFAULT_POLICY_NAME = "default"
NAME_LIMIT = 56


def _properties(raw_policy: Mapping[str, Any]) -> Mapping[str, Any]:
    props = raw_policy.get("properties")
    return props if isinstance(props, Mapping) else {}


def vm_entries(raw_policy: Mapping[str, Any]) -> list[RawJson]:
    """The policy's ``virtualMachines`` entries, as Azure wrote them."""
    entries = _properties(raw_policy).get("virtualMachines") or []
    return [entry for entry in entries if isinstance(entry, dict)]


def entry_for(raw_policy: Mapping[str, Any], vm_id: str) -> RawJson | None:
    """The ``virtualMachines`` entry for ``vm_id`` (ids compare case-insensitively)."""
    return next((entry for entry in vm_entries(raw_policy) if same_id(entry.get("id"), vm_id)), None)


def _sources(raw: Mapping[str, Any]) -> tuple[str, ...]:
    many = raw.get("allowedSourceAddressPrefixes")
    if isinstance(many, list) and many:
        return tuple(str(item) for item in many)
    one = raw.get("allowedSourceAddressPrefix")
    return (str(one),) if one else (ANY_SOURCE,)


def port_from_raw(raw: Mapping[str, Any]) -> PolicyPort:
    """One ``ports[]`` rule of a policy as our PolicyPort."""
    try:
        protocol = PortProtocol(str(raw.get("protocol", "*")).upper())
    except ValueError:
        protocol = PortProtocol.ANY
    try:
        max_duration = parse_duration(str(raw.get("maxRequestAccessDuration") or ""))
    except DurationError:
        max_duration = DEFAULT_MAX_ACCESS
    return PolicyPort(
        number=int(raw["number"]),
        protocol=protocol,
        allowed_sources=_sources(raw),
        max_duration=max_duration,
    )


def port_to_raw(port: PolicyPort) -> RawJson:
    """Our PolicyPort as Azure's ``ports[]`` rule (one prefix, or the prefixes list when several)."""
    raw: RawJson = {"number": port.number, "protocol": port.protocol.value}
    if len(port.allowed_sources) == 1:
        raw["allowedSourceAddressPrefix"] = port.allowed_sources[0]
    else:
        raw["allowedSourceAddressPrefixes"] = list(port.allowed_sources)
    raw["maxRequestAccessDuration"] = to_iso8601(port.max_duration)
    return raw


def policy_for_vm(raw_policy: Mapping[str, Any], vm_id: str) -> JitPolicy | None:
    """The policy as it applies to one VM, or None when the policy does not cover it."""
    entry = entry_for(raw_policy, vm_id)
    if entry is None:
        return None
    policy_id = str(raw_policy.get("id", ""))
    segments = id_segments(policy_id)
    ports = tuple(port_from_raw(port) for port in entry.get("ports") or [] if isinstance(port, Mapping))
    return JitPolicy(
        id=policy_id,
        subscription_id=segments.get("subscriptions", ""),
        resource_group=segments.get("resourcegroups", ""),
        location=segments.get("locations", str(raw_policy.get("location", ""))),
        name=str(raw_policy.get("name") or segments.get("jitnetworkaccesspolicies", "")),
        vm_id=str(entry.get("id", vm_id)),
        ports=ports,
    )


def covering_policy(raw_policies: Iterable[Mapping[str, Any]], vm_id: str) -> Mapping[str, Any] | None:
    """The first policy whose VM list names ``vm_id``."""
    return next((raw for raw in raw_policies if entry_for(raw, vm_id) is not None), None)


def _granted(raw: Mapping[str, Any]) -> GrantedPort | None:
    end = parse_time(raw.get("endTimeUtc"))
    if end is None or "number" not in raw:
        return None
    return GrantedPort(
        number=int(raw["number"]),
        source=",".join(_sources(raw)),
        end=end,
        status=str(raw.get("status", "")),
        status_reason=str(raw.get("statusReason", "")),
    )


def requests_for_vm(raw_policy: Mapping[str, Any], vm_id: str) -> list[JitRequestRecord]:
    """The policy's ``requests[]`` history for one VM, oldest first, with jitbot's requester recovered."""
    records: list[JitRequestRecord] = []
    for request in _properties(raw_policy).get("requests") or []:
        if not isinstance(request, Mapping):
            continue
        start = parse_time(request.get("startTimeUtc"))
        if start is None:
            continue
        justification = str(request.get("justification") or "")
        parsed = parse_justification(justification)
        for vm in request.get("virtualMachines") or []:
            if not isinstance(vm, Mapping) or not same_id(vm.get("id"), vm_id):
                continue
            ports = tuple(
                port for port in (_granted(raw) for raw in vm.get("ports") or [] if isinstance(raw, Mapping)) if port
            )
            records.append(
                JitRequestRecord(
                    vm_id=str(vm.get("id")),
                    start=start,
                    requestor=str(request.get("requestor") or ""),
                    justification=justification,
                    ports=ports,
                    requester_person=parsed.requester if parsed else None,
                    request_id=parsed.request_id if parsed else None,
                    attempt=parsed.attempt if parsed else None,
                )
            )
    records.sort(key=lambda record: record.start)
    return records


def activity(records: Sequence[JitRequestRecord], now: datetime) -> JitActivity:
    """The portal's columns: approved requests in the last 7 days, last access and the last person."""
    recent = [record for record in records if record.start >= now - ACTIVITY_WINDOW]
    last = max(records, key=lambda record: record.start, default=None)
    return JitActivity(
        approved_last_7_days=len(recent),
        last_access=last.start if last else None,
        last_user=(last.requester_person or last.requestor or None) if last else None,
    )


def replace_entry(raw_policy: Mapping[str, Any] | None, vm_id: str, entry: RawJson | None) -> list[RawJson]:
    """The new VM list: every other entry exactly as Azure gave it, ours replaced, added or (None) removed."""
    others = [] if raw_policy is None else vm_entries(raw_policy)
    result: list[RawJson] = []
    placed = False
    for existing in others:
        if same_id(existing.get("id"), vm_id):
            if entry is not None and not placed:
                result.append(entry)
                placed = True
            continue
        result.append(existing)
    if entry is not None and not placed:
        result.append(entry)
    return result


def initiate_body(
    vm_id: str, ports: Iterable[int], source: str, end_utc: str, justification: str, port_ends: Mapping[int, str]
) -> bytes:
    """The initiate body: always with an explicit source, never the caller's (the bot's) own address.

    Every port closes at ``end_utc`` unless ``port_ends`` gives it a later time (a window shared with others).
    """
    return json.dumps(
        {
            "virtualMachines": [
                {
                    "id": vm_id,
                    "ports": [
                        {
                            "number": number,
                            "endTimeUtc": port_ends.get(number, end_utc),
                            "allowedSourceAddressPrefix": source,
                        }
                        for number in ports
                    ],
                }
            ],
            "justification": justification,
        }
    ).encode()


def accepted_request(raw_request: Mapping[str, Any], vm_id: str, sent_end: datetime, now: datetime) -> InitiateResult:
    """What Azure's 202 says it opened; the window starts when Azure accepted it (its ``startTimeUtc``)."""
    start = parse_time(raw_request.get("startTimeUtc")) or now
    ports: list[GrantedPort] = []
    for vm in raw_request.get("virtualMachines") or []:
        if isinstance(vm, Mapping) and same_id(vm.get("id"), vm_id):
            ports += [
                port for port in (_granted(raw) for raw in vm.get("ports") or [] if isinstance(raw, Mapping)) if port
            ]
    end = max((port.end for port in ports), default=sent_end)
    return InitiateResult(start=start, end=end, ports=tuple(ports))


def recorded_result(record: JitRequestRecord, sent_end: datetime) -> InitiateResult:
    """The same answer, recovered from the policy's history after the 202 itself was lost."""
    end = max((port.end for port in record.ports), default=sent_end)
    return InitiateResult(start=record.start, end=end, ports=record.ports)
