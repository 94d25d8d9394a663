"""Azure RBAC's rules for whether a set of role definitions grants an action, as pure functions.

The rules ("Understand Azure role definitions", MicrosoftDocs/azure-docs
articles/role-based-access-control/role-definitions.md): an action string may contain ``*`` wildcards, matched
case-insensitively against the operation; within one permission block, ``notActions`` are subtracted from
``actions``; several roles add up, so an action one role's ``notActions`` excludes is still granted by another
role that allows it. Data actions play no part in control-plane operations such as JIT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
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
