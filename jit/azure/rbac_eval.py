"""Azure RBAC's rules for whether a set of role definitions grants an action, as pure functions.

The rules ("Understand Azure role definitions", MicrosoftDocs/azure-docs
articles/role-based-access-control/role-definitions.md): an action string may contain ``*`` wildcards, matched
case-insensitively against the operation; within one permission block, ``notActions`` are subtracted from
``actions``; several roles add up, so an action one role's ``notActions`` excludes is still granted by another
role that allows it. Data actions play no part in control-plane operations such as JIT. Deny assignments
refuse what they match whatever roles grant (``deny_effect``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@cache
def _pattern(action: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in action.split("*")), re.IGNORECASE)


def action_matches(granted: str, action: str) -> bool:
    """Whether the (possibly wildcard) ``granted`` action string covers the operation ``action``."""
    return _pattern(granted.strip()).fullmatch(action.strip()) is not None


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def permission_blocks(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``properties.permissions`` blocks of a role definition as Azure returns it."""
    props = definition.get("properties")
    blocks = props.get("permissions") if isinstance(props, Mapping) else None
    return [block for block in blocks or [] if isinstance(block, Mapping)]


def block_grants(block: Mapping[str, Any], action: str) -> bool:
    """One permission block grants ``action`` when an action matches and no notAction does."""
    if not any(action_matches(granted, action) for granted in _strings(block.get("actions"))):
        return False
    return not any(action_matches(excluded, action) for excluded in _strings(block.get("notActions")))


def granted(definitions: Iterable[Mapping[str, Any]], action: str) -> bool:
    """Whether any of the role definitions grants ``action``."""
    return any(block_grants(block, action) for definition in definitions for block in permission_blocks(definition))


def missing(definitions: Sequence[Mapping[str, Any]], required: Sequence[str]) -> tuple[str, ...]:
    """The ``required`` actions none of the role definitions grants, in the order given."""
    return tuple(action for action in required if not granted(definitions, action))


def applies_to(scope: str, resource_id: str) -> bool:
    """Whether an assignment at ``scope`` can cover ``resource_id``: the root, a management group (Azure resolved
    the hierarchy when it listed the assignment) or an ancestor path of the resource (or the resource itself)."""
    clean = scope.rstrip("/").lower()
    if clean == "" or clean.startswith("/providers/microsoft.management/managementgroups/"):
        return True
    target = resource_id.rstrip("/").lower()
    return target == clean or target.startswith(clean + "/")


EVERYONE = "00000000-0000-0000-0000-000000000000"
"""The principal id a deny assignment uses for "Everyone" (type ``SystemDefined``)."""


@dataclass(frozen=True)
class DenyEffect:
    """What the deny assignments at a resource do to one person: the actions they refuse (``denied``, by the
    assignments named in ``by``), and the assignments that would refuse some action but name groups, whose
    members jitbot cannot see (``undecided``)."""

    denied: tuple[str, ...] = ()
    by: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()


def deny_effect(
    deny_assignments: Sequence[Mapping[str, Any]], principal_id: str, required: Sequence[str], resource_id: str
) -> DenyEffect:
    """Apply Azure's deny assignment rules ("Understand Azure deny assignments", MicrosoftDocs/azure-docs
    articles/role-based-access-control/deny-assignments.md) for ``principal_id`` on ``resource_id``: an assignment
    at or above the resource (only at it when ``doNotApplyToChildScopes``) refuses the actions its permission
    blocks match (``notActions`` subtracted, wildcards as for roles) to its ``principals`` — "Everyone" included —
    except its ``excludePrincipals``; it wins over every role assignment."""
    denied: list[str] = []
    by: list[str] = []
    undecided: list[str] = []
    me = principal_id.lower()
    for assignment in deny_assignments:
        props = assignment.get("properties")
        if not isinstance(props, Mapping) or not _covers(props, resource_id):
            continue
        blocks = [block for block in props.get("permissions") or [] if isinstance(block, Mapping)]
        refused = [action for action in required if any(block_grants(block, action) for block in blocks)]
        if not refused:
            continue
        principals = _principals(props.get("principals"))
        excluded = _principals(props.get("excludePrincipals"))
        if me in excluded:
            continue
        targeted = me in principals or EVERYONE in principals
        name = str(props.get("denyAssignmentName") or assignment.get("name") or "unnamed")
        if targeted and not any(kind == "group" for kind in excluded.values()):
            denied += [action for action in refused if action not in denied]
            by.append(name)
        elif targeted or any(kind == "group" for kind in principals.values()):
            undecided.append(name)
    return DenyEffect(tuple(denied), tuple(by), tuple(undecided))


def _covers(props: Mapping[str, Any], resource_id: str) -> bool:
    scope = str(props.get("scope") or "")
    if props.get("doNotApplyToChildScopes") is True:
        return scope.rstrip("/").lower() == resource_id.rstrip("/").lower()
    return applies_to(scope, resource_id)


def _principals(value: Any) -> dict[str, str]:
    """Principal ids (lower-cased) → their type (lower-cased: user, group, serviceprincipal, systemdefined)."""
    if not isinstance(value, list):
        return {}
    return {
        str(item.get("id")).lower(): str(item.get("type") or "").lower()
        for item in value
        if isinstance(item, Mapping) and item.get("id")
    }
