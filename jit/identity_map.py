"""The optional identity map (``JITBOT_IDENTITY_MAP``): Slack user ids whose Entra ID user is not the one their
Slack email finds, each mapped to an Entra ID object id or user principal name.

The requester RBAC check uses an entry before the email lookup, so the map covers the exceptions: an admin whose
Azure account is a separate ``adm-…`` user, a guest whose mail differs, a Slack profile without an email. The file
is YAML, one ``U…: <object id or UPN>`` line per person; every mistake is reported with its line at start, like
the rules file, so a broken map stops jitbot instead of silently checking the wrong person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from jit.checks import Check
from jit.settings import SettingsError

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_UPN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
EXAMPLE = "U0123ABCD: alice.admin@contoso.com   # or an object id: 7c1d2f3a-0b4e-4c5d-8e9f-0a1b2c3d4e5f"


class IdentityMapError(SettingsError):
    """The identity map is unusable; ``problems`` are ``file:line: what is wrong`` lines, every one found."""


def identity_map_checks(path: Path | None) -> list[Check]:
    """``jitbot doctor``'s lines for the identity map file: one failure per problem, or how many people it maps."""
    name = "identity map"
    if path is None:
        return [Check.passed("Settings", name, "no JITBOT_IDENTITY_MAP: everyone is found by their Slack email")]
    try:
        mapped = load_identity_map(path)
    except IdentityMapError as exc:
        fix = f"Correct that line of JITBOT_IDENTITY_MAP; each line reads {EXAMPLE}"
        return [Check.failed("Settings", name, problem, fix) for problem in exc.problems]
    return [Check.passed("Settings", name, f"{len(mapped)} Slack users mapped in {path}")]


def load_identity_map(path: Path | None) -> Mapping[str, str]:
    """The map in ``path`` (Slack user id → Entra ID object id or UPN); empty when no file is configured.

    Raises IdentityMapError listing every problem, so `jitbot serve` and `jitbot doctor` refuse it with its lines.
    """
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IdentityMapError([f"{path}: cannot read JITBOT_IDENTITY_MAP ({exc.strerror or exc})"]) from None
    return parse_identity_map(text, source=str(path))


def parse_identity_map(text: str, *, source: str = "identity map") -> Mapping[str, str]:
    """Validate the map given as YAML text; raises IdentityMapError naming each bad line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise IdentityMapError([f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise IdentityMapError([f"{source}:{root.start_mark.line + 1}: the identity map must be lines like {EXAMPLE}"])
    found: dict[str, str] = {}
    problems: list[str] = []
    for key_node, value_node in root.value:
        where = f"{source}:{key_node.start_mark.line + 1}"
        user = str(key_node.value).strip() if isinstance(key_node, yaml.ScalarNode) else ""
        target = str(value_node.value).strip() if isinstance(value_node, yaml.ScalarNode) else ""
        if not _SLACK_USER.fullmatch(user):
            problems.append(f"{where}: {user or 'the key'!r} is not a Slack user id (U… or W…); write {EXAMPLE}")
            continue
        if user in found:
            problems.append(f"{where}: {user} is mapped twice")
            continue
        if not (_OBJECT_ID.fullmatch(target) or _UPN.fullmatch(target)):
            problems.append(
                f"{where}: {target or 'the value'!r} for {user} is neither an Entra ID object id (a GUID) nor a user "
                "principal name (name@domain)"
            )
            continue
        found[user] = target.lower() if _OBJECT_ID.fullmatch(target) else target
    if problems:
        raise IdentityMapError(problems)
    return found
