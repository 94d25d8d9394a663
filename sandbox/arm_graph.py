"""Azure Resource Graph on the emulator: ``POST /providers/Microsoft.ResourceGraph/resources``.

It answers the KQL subset of ``sandbox.kql`` over the ``Resources`` table, built from the same inventory and the
same resource shapes (``sandbox.arm_resources``) as the REST routes, so a VM found by a query is exactly the VM the
REST list would return. As the 2021-03-01 swagger (``sandbox/specs/resourcegraph``) describes it:

- the body is a ``QueryRequest`` (checked against the swagger): ``query``, and ``subscriptions`` or
  ``managementGroups`` as the scope (neither: every subscription of the tenant); rows from outside the scope are
  never returned;
- the answer is a ``QueryResponse``: ``totalRecords``, ``count``, ``resultTruncated``, ``data`` (an object array,
  or a table with ``options.resultFormat = "table"``) and ``facets``; a result larger than the page
  (``options.$top``, default 100, at most 1,000) carries ``$skipToken``, which the next request sends in its
  ``options`` with the same query and scope. Paging needs the ``id`` column, as the "Next page query" example
  notes: without it the answer is truncated (``resultTruncated: "true"``) and has no ``$skipToken``;
- rows have Resource Graph's columns: ``type`` and ``resourceGroup`` lower-cased, ``properties`` as the REST
  ``GET`` returns them.

An identity without Resource Graph access gets Azure's 403 ``AuthorizationFailed`` (``ArmState.graph_denied``),
and every answer carries the throttling headers Azure documents (``x-ms-user-quota-remaining``,
``x-ms-user-quota-resets-after``; 15 queries per 5-second window per user, per
https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests). Past the
quota the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import arm_resources as shapes
from sandbox.arm_context import graph_instance_view
from sandbox.arm_errors import ArmError
from sandbox.arm_inventory import Inventory, NetworkSecurityGroup, VirtualMachine
from sandbox.arm_schema import RESOURCE_GRAPH_SWAGGER, problems
from sandbox.kql import KqlError, Row, parse

GRAPH_VERSIONS = ("2019-04-01", "2021-03-01", "2022-10-01", "2024-04-01")
DEFAULT_PAGE = 100
MAX_PAGE = 1000
GRAPH_ACTION = "Microsoft.ResourceGraph/resources/read"
QUOTA = 15
QUOTA_WINDOW = 5.0


@dataclass
class GraphQuota:
    """Resource Graph's per-user query quota: ``limit`` queries per ``window`` seconds (0 turns it off)."""

    limit: int = QUOTA
    window: float = QUOTA_WINDOW
    clock: Callable[[], float] = time.monotonic
    _started: dict[str, float] = field(default_factory=dict)
    _used: dict[str, int] = field(default_factory=dict)

    def take(self, principal: str) -> dict[str, str]:
        """Count one query for ``principal``; returns the throttling headers, or raises the 429."""
        now = self.clock()
        started = self._started.get(principal)
        if started is None or now - started >= self.window:
            self._started[principal], self._used[principal] = now, 0
            started = now
        resets = max(0.0, self.window - (now - started))
        if self.limit and self._used[principal] >= self.limit:
            raise ArmError(
                429,
                "RateLimiting",
                "Please provide below info when asking for support: timestamp, correlation id. "
                "Client application has been throttled and should not attempt to repeat the request until an "
                "amount of time has elapsed.",
                headers={
                    "Retry-After": str(max(1, math.ceil(resets))),
                    "x-ms-user-quota-remaining": "0",
                    "x-ms-user-quota-resets-after": _hms(resets),
                },
            )
        self._used[principal] += 1
        remaining = self.limit - self._used[principal] if self.limit else MAX_PAGE
        return {"x-ms-user-quota-remaining": str(remaining), "x-ms-user-quota-resets-after": _hms(resets)}


def _hms(seconds: float) -> str:
    whole = math.ceil(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _vm_key(vm: VirtualMachine) -> tuple[Any, ...]:
    return (
        id(vm),
        vm.name,
        vm.location,
        vm.os_type,
        vm.classic,
        vm.nic_nsg,
        vm.subnet_nsg,
        vm.private_ip,
        vm.public_ip,
        tuple(vm.tags.items()),
        vm.vm_size,
        vm.power_state,
    )


def _nsg_key(nsg: NetworkSecurityGroup) -> tuple[Any, ...]:
    return (id(nsg), nsg.name, nsg.location, json.dumps(nsg.rules, sort_keys=True, default=str))


def _row(resource: dict[str, Any], subscription_id: str, resource_group: str, tenant_id: str) -> Row:
    return {
        "id": resource["id"],
        "name": resource["name"],
        "type": str(resource["type"]).lower(),
        "tenantId": tenant_id,
        "kind": resource.get("kind", ""),
        "location": resource.get("location", ""),
        "resourceGroup": resource_group.lower(),
        "subscriptionId": subscription_id,
        "managedBy": "",
        "sku": resource.get("sku"),
        "plan": None,
        "properties": resource.get("properties", {}),
        "tags": resource.get("tags", {}),
        "identity": None,
        "zones": None,
        "extendedLocation": None,
    }


@dataclass
class ResourceTable:
    """The ``Resources`` rows of each subscription (by type), rebuilt only when something in that subscription
    changed; and the results of recent queries, so the pages of one query read the snapshot its first page saw."""

    _cache: dict[str, tuple[tuple[Any, ...], dict[str, list[Row]]]] = field(default_factory=dict)
    _snapshots: dict[str, list[Row]] = field(default_factory=dict)

    def remember(self, fingerprint: str, rows: list[Row]) -> None:
        """Keep a query's result for its next pages (the 16 most recent queries)."""
        self._snapshots.pop(fingerprint, None)
        self._snapshots[fingerprint] = rows
        while len(self._snapshots) > 16:
            self._snapshots.pop(next(iter(self._snapshots)))

    def snapshot(self, fingerprint: str) -> list[Row] | None:
        """The result a query's first page saw, if still kept."""
        return self._snapshots.get(fingerprint)

    def rows(self, inventory: Inventory, subscription_ids: list[str], types: frozenset[str] | None = None) -> list[Row]:
        """Every row of these subscriptions (of these lower-cased types), subscription by subscription."""
        nsgs_by_sub: dict[str, list[NetworkSecurityGroup]] = {}
        for nsg in inventory.nsgs:
            nsgs_by_sub.setdefault(nsg.subscription_id.lower(), []).append(nsg)
        found: list[Row] = []
        for subscription_id in subscription_ids:
            vms = inventory.in_group(subscription_id)
            nsgs = nsgs_by_sub.get(subscription_id.lower(), [])
            key = (tuple(_vm_key(vm) for vm in vms), tuple(_nsg_key(n) for n in nsgs))
            cached = self._cache.get(subscription_id.lower())
            if cached is None or cached[0] != key:
                by_type: dict[str, list[Row]] = {}
                for row in _subscription_rows(inventory, subscription_id, vms, nsgs):
                    by_type.setdefault(row["type"], []).append(row)
                cached = (key, by_type)
                self._cache[subscription_id.lower()] = cached
            for kind, rows in cached[1].items():
                if types is None or kind in types:
                    found.extend(rows)
        return found


def _subscription_rows(
    inventory: Inventory, subscription_id: str, vms: list[VirtualMachine], nsgs: list[NetworkSecurityGroup]
) -> list[Row]:
    tenant = inventory.directory.tenant_id
    rows: list[Row] = []
    groups: dict[str, list[VirtualMachine]] = {}
    for vm in vms:
        if vm.classic:
            rows.append(_row(shapes.classic_virtual_machine(vm), vm.subscription_id, vm.resource_group, tenant))
            continue
        row = _row(shapes.virtual_machine(vm), vm.subscription_id, vm.resource_group, tenant)
        row["properties"] = {**row["properties"], "extended": {"instanceView": graph_instance_view(vm)}}
        rows.append(row)
        rows.append(_row(shapes.network_interface(vm), vm.subscription_id, vm.resource_group, tenant))
        if vm.public_ip:
            rows.append(_row(shapes.public_ip_address(vm), vm.subscription_id, vm.resource_group, tenant))
        groups.setdefault(vm.resource_group.lower(), []).append(vm)
    for members in groups.values():
        first = members[0]
        vnet = shapes.virtual_network(inventory, members)
        rows.append(_row(vnet, first.subscription_id, first.resource_group, tenant))
    for nsg in nsgs:
        rows.append(_row(shapes.network_security_group(inventory, nsg), subscription_id, nsg.resource_group, tenant))
    return rows


def scope_of(inventory: Inventory, body: dict[str, Any]) -> list[str]:
    """The subscription ids a query covers: the listed ones, those under the listed management groups, or all."""
    known = {s.id.lower(): s.id for s in inventory.subscriptions}
    if body.get("subscriptions"):
        return [known[s.lower()] for s in body["subscriptions"] if s.lower() in known]
    groups = body.get("managementGroups")
    if groups:
        found: dict[str, str] = {}
        for group in groups:
            for sub in _subscriptions_under(inventory, str(group)):
                if sub.lower() in known:
                    found.setdefault(sub.lower(), known[sub.lower()])
        return list(found.values())
    return list(known.values())


def _subscriptions_under(inventory: Inventory, group: str) -> list[str]:
    by_id = {g.id.lower(): g for g in inventory.management_groups}
    root = by_id.get(group.lower())
    if root is None:
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client does not have authorization to perform action '{GRAPH_ACTION}' over scope "
            f"'/providers/Microsoft.Management/managementGroups/{group}' or the scope is invalid.",
        )
    found: list[str] = []
    pending = [root]
    while pending:
        current = pending.pop(0)
        found.extend(current.subscriptions)
        pending.extend(g for g in inventory.management_groups if (g.parent or "").lower() == current.id.lower())
    return found


def _token(skip: int, fingerprint: str) -> str:
    return base64.b64encode(json.dumps({"skip": skip, "query": fingerprint}).encode()).decode()


def _skip_from(token: str, fingerprint: str) -> int:
    try:
        decoded = json.loads(base64.b64decode(token.encode(), validate=True))
        skip = int(decoded["skip"])
        same = decoded["query"] == fingerprint
    except (ValueError, KeyError, TypeError) as exc:
        raise _invalid("InvalidSkipToken", "The $skipToken is not valid.") from exc
    if not same or skip < 0:
        raise _invalid("InvalidSkipToken", "The $skipToken belongs to another query or scope.")
    return skip


def _invalid(code: str, message: str) -> ArmError:
    return ArmError(
        400,
        "BadRequest",
        "Please provide below info when asking for support: timestamp, correlation id. "
        f"Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error "
        f"before retrying. {code}: {message}",
    )


def answer(inventory: Inventory, table: ResourceTable, body: Any) -> dict[str, Any]:
    """The QueryResponse for a QueryRequest body (raises ArmError for what Azure refuses)."""
    found = problems(RESOURCE_GRAPH_SWAGGER, "QueryRequest", body)
    if found:
        raise _invalid("InvalidRequestContent", "; ".join(found))
    try:
        query = parse(str(body["query"]))
    except KqlError as exc:
        raise _invalid("ParserFailure", str(exc)) from exc
    options = body.get("options") or {}
    scope = scope_of(inventory, body)
    fingerprint = hashlib.sha256(json.dumps([body["query"], sorted(scope)]).encode()).hexdigest()[:16]
    page = int(options.get("$top", DEFAULT_PAGE))
    skip = int(options.get("$skip", 0))
    rows = None
    if options.get("$skipToken"):
        skip = _skip_from(str(options["$skipToken"]), fingerprint)
        rows = table.snapshot(fingerprint)
    if rows is None:
        rows = query.run(lambda types: table.rows(inventory, scope, types))
        table.remember(fingerprint, rows)
    chunk = rows[skip : skip + page]
    more = skip + page < len(rows)
    pageable = all("id" in row for row in rows[:1])
    response: dict[str, Any] = {
        "totalRecords": len(rows),
        "count": len(chunk),
        "resultTruncated": "true" if more and not pageable else "false",
        "facets": [],
        "data": _formatted(chunk, str(options.get("resultFormat", "objectArray"))),
    }
    if more and pageable:
        response["$skipToken"] = _token(skip + page, fingerprint)
    return response


def _formatted(rows: list[Row], result_format: str) -> Any:
    if result_format != "table":
        return rows
    columns = list(rows[0]) if rows else []
    return {
        "columns": [{"name": name, "type": _column_type(rows, name)} for name in columns],
        "rows": [[row.get(name) for name in columns] for row in rows],
    }


def _column_type(rows: list[Row], name: str) -> str:
    value = next((row.get(name) for row in rows if row.get(name) is not None), None)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict | list):
        return "object"
    return "string"
