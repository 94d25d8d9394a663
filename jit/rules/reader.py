"""Reading the YAML rules file into rules, with every mistake named by its line.

Why a hand-written validator instead of a schema library: every mistake must name its line (from YAML's node
marks), and all mistakes are reported at once so an operator fixes the file in one go.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from jit.model import RbacMode
from jit.routing import (
    AutoApproval,
    BusinessHours,
    ConflictChoice,
    Escalation,
    Route,
    Router,
    SingleRouteRouter,
)
from jit.rules.model import Match, Rule, RulesError, RulesRouter, region_key
from jit.rules.values import ValueReader
from jit.settings import Settings

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


TOP_KEYS = ("default", "rules")
RULE_KEYS = (
    "name",
    "match",
    "requesters",
    "approvers",
    "approval_channel",
    "max_duration",
    "reason_required",
    "ticket_pattern",
    "quorum",
    "remind_approvers",
    "escalation",
    "auto_approve",
    "break_glass",
    "on_conflict",
    "refuse_wide_sources",
    "requester_rbac",
)
DEFAULT_KEYS = tuple(k for k in RULE_KEYS if k not in ("name", "match"))
MATCH_KEYS = ("subscription", "resource_group", "region", "tags")
ESCALATION_KEYS = ("after", "to", "channel")
AUTO_KEYS = ("requesters", "deny", "max_duration", "ports", "business_hours")
HOURS_KEYS = ("timezone", "days", "start", "end")
BREAK_GLASS_KEYS = ("group", "review_within")


def router_for(settings: Settings) -> Router:
    """The router a bot runs with: the environment's default route, plus the rules file when one is set.

    Raises RulesError (a SettingsError) naming each bad line, so a broken rules file stops the start.
    """
    default = Route(
        name="default",
        approvers=settings.approvers,
        approval_channel=settings.approval_channel,
        max_duration=settings.max_duration,
        break_glass=settings.break_glass_group,
        requester_rbac=settings.requester_rbac,
    )
    if settings.rules_file is None:
        return SingleRouteRouter(default)
    return load_rules(settings.rules_file, default)


def load_rules(path: Path, default: Route) -> RulesRouter:
    """Read and validate the rules file; raises RulesError listing every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read the rules file ({exc.strerror or exc})"]) from None
    return parse_rules(text, default, source=str(path))


def parse_rules(text: str, default: Route, *, source: str = "rules") -> RulesRouter:
    """Validate rules given as YAML text; ``default`` is the environment's route (used when nothing matches)."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError([f"{where}: not valid YAML: {problem}"]) from None
    router = reader.document(root, default)
    if reader.problems:
        raise RulesError(reader.problems)
    return router


class _Reader(ValueReader):
    """Walks the composed YAML nodes, building typed values and collecting ``file:line: problem`` lines."""

    def document(self, root: yaml.Node | None, default: Route) -> RulesRouter:
        if root is None:
            return RulesRouter((), default)
        top = self.mapping(root, "the rules file", TOP_KEYS)
        if top is None:
            return RulesRouter((), default)
        if "default" in top:
            fields = self.mapping(top["default"], "`default`", DEFAULT_KEYS)
            if fields is not None:
                default = self.route_fields(top["default"], fields, default)
        rules: list[Rule] = []
        if "rules" in top:
            rules = self.rule_list(top["rules"], default)
        return RulesRouter(tuple(rules), default)

    def rule_list(self, node: yaml.Node, default: Route) -> list[Rule]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, "`rules` must be a list of rules, each starting with `- name: …`")
            return []
        rules: list[Rule] = []
        names: dict[str, int] = {default.name: 0}
        for item in node.value:
            fields = self.mapping(item, "a rule", RULE_KEYS)
            if fields is None:
                continue
            name = self.rule_name(item, fields, names)
            match = self.match(fields["match"]) if "match" in fields else Match()
            tagged = bool(match.tags)
            base = Route(
                name=name or "unnamed",
                approvers=() if tagged else default.approvers,
                approval_channel=default.approval_channel,
                approver_reminders=default.approver_reminders,
                break_glass=() if tagged else default.break_glass,
                review_within=default.review_within,
                requester_rbac=None if tagged else default.requester_rbac,
            )
            route = self.route_fields(item, fields, base)
            if name is not None:
                rules.append(Rule(match, route, item.start_mark.line + 1, frozenset(fields)))
        return rules

    def rule_name(self, item: yaml.Node, fields: Mapping[str, yaml.Node], names: dict[str, int]) -> str | None:
        name_node = fields.get("name")
        if name_node is None:
            self.fail(item, "a rule needs a `name` (letters, digits, `-`, `_`, `.`)")
            return None
        name = self.text(name_node, "name")
        if name is None:
            return None
        if not _RULE_NAME.fullmatch(name):
            self.fail(name_node, f"rule name {name!r} may use only letters, digits, `-`, `_` and `.`")
            return None
        if name in names:
            first = names[name]
            already = f" (first used on line {first})" if first else " (the name of the default route)"
            self.fail(name_node, f"rule name {name!r} is used twice{already}")
            return None
        names[name] = name_node.start_mark.line + 1
        return name

    def route_fields(self, node: yaml.Node, fields: Mapping[str, yaml.Node], base: Route) -> Route:
        changes: dict[str, Any] = {}
        readers: dict[str, Callable[[yaml.Node], Any]] = {
            "requesters": lambda n: self.principals(n, "requesters"),
            "approvers": lambda n: self.principals(n, "approvers", allow_empty=False),
            "approval_channel": lambda n: self.channel(n, "approval_channel"),
            "max_duration": lambda n: self.window(n, "max_duration"),
            "reason_required": lambda n: self.flag(n, "reason_required"),
            "ticket_pattern": self.pattern,
            "quorum": self.quorum,
            "remind_approvers": self.reminders,
            "escalation": self.escalation,
            "auto_approve": self.auto_approve,
            "on_conflict": self.conflict_choice,
            "refuse_wide_sources": lambda n: self.flag(n, "refuse_wide_sources"),
            "requester_rbac": self.rbac_mode,
        }
        targets = {"remind_approvers": "approver_reminders"}
        for key, reader in readers.items():
            if key in fields:
                value = reader(fields[key])
                if value is not None:
                    changes[targets.get(key, key)] = value
        if "break_glass" in fields:
            glass = self.break_glass(fields["break_glass"])
            if glass is not None:
                changes["break_glass"], review = glass
                if review is not None:
                    changes["review_within"] = review
        if changes.get("ticket_pattern"):
            changes["reason_required"] = True
        route = replace(base, **changes)
        if route.quorum > 1 and 0 < len(route.approvers) < route.quorum and not _has_group(route.approvers):
            self.fail(
                fields.get("quorum", node),
                f"quorum {route.quorum} needs at least {route.quorum} approvers, but only "
                f"{len(route.approvers)} are named (or name a user group)",
            )
        return route

    def conflict_choice(self, node: yaml.Node) -> ConflictChoice | None:
        text = self.text(node, "on_conflict")
        if text is None:
            return None
        try:
            return ConflictChoice(text.strip().lower())
        except ValueError:
            choices = ", ".join(c.value for c in ConflictChoice)
            self.fail(node, f"`on_conflict` must be one of {choices}, not {text!r}")
            return None

    def rbac_mode(self, node: yaml.Node) -> RbacMode | None:
        text = self.text(node, "requester_rbac")
        if text is None:
            return None
        try:
            return RbacMode(text.strip().lower())
        except ValueError:
            self.fail(node, f"`requester_rbac` must be off, warn or enforce, not {text!r}")
            return None

    def escalation(self, node: yaml.Node) -> Escalation | None:
        fields = self.mapping(node, "`escalation`", ESCALATION_KEYS)
        if fields is None:
            return None
        if "after" not in fields:
            self.fail(node, "`escalation` needs `after:` (how long a request waits before it escalates)")
            return None
        after = self.duration(fields["after"], "after")
        approvers = self.principals(fields["to"], "to") if "to" in fields else ()
        channel = self.channel(fields["channel"], "channel") if "channel" in fields else None
        if after is None or approvers is None or ("channel" in fields and channel is None):
            return None
        if not approvers and channel is None:
            self.fail(node, "`escalation` needs `to:` (more approvers), `channel:`, or both")
            return None
        return Escalation(after=after, approvers=approvers, channel=channel)

    def auto_approve(self, node: yaml.Node) -> AutoApproval | None:
        fields = self.mapping(node, "`auto_approve`", AUTO_KEYS)
        if fields is None:
            return None
        conditions = [k for k in fields if k != "deny"]
        if not conditions:
            self.fail(
                node,
                "`auto_approve` needs at least one condition (requesters, max_duration, ports or business_hours); "
                "approving everything automatically is never what you want",
            )
            return None
        parts: dict[str, Any] = {}
        ok = True
        for key, reader in (
            ("requesters", lambda n: self.principals(n, "requesters", allow_empty=False)),
            ("deny", lambda n: self.principals(n, "deny")),
            ("max_duration", lambda n: self.window(n, "max_duration")),
            ("ports", self.ports),
            ("business_hours", self.business_hours),
        ):
            if key in fields:
                value = reader(fields[key])
                ok = ok and value is not None
                parts[key] = value
        if ok and parts.get("business_hours") is not None:
            parts["business_hours"] = (parts["business_hours"],)
        return AutoApproval(**parts) if ok else None

    def business_hours(self, node: yaml.Node) -> BusinessHours | None:
        fields = self.mapping(node, "`business_hours`", HOURS_KEYS)
        if fields is None:
            return None
        missing = [k for k in ("timezone", "start", "end") if k not in fields]
        if missing:
            self.fail(node, "`business_hours` needs " + ", ".join(f"`{k}`" for k in missing))
            return None
        zone = self.text(fields["timezone"], "timezone")
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                self.fail(fields["timezone"], f"{zone!r} is not an IANA time zone (like Europe/Berlin or UTC)")
                zone = None
        start = self.clock(fields["start"], "start")
        end = self.clock(fields["end"], "end")
        days = self.days(fields["days"]) if "days" in fields else frozenset(range(5))
        if zone is None or start is None or end is None or days is None:
            return None
        if end <= start:
            self.fail(fields["end"], "`end` must be later than `start` (windows across midnight: use two rules)")
            return None
        return BusinessHours(timezone=zone, start=start, end=end, days=days)

    def break_glass(self, node: yaml.Node) -> tuple[tuple[str, ...], timedelta | None] | None:
        if not isinstance(node, yaml.MappingNode):
            group = self.principals(node, "break_glass")
            return None if group is None else (group, None)
        fields = self.mapping(node, "`break_glass`", BREAK_GLASS_KEYS)
        if fields is None:
            return None
        if "group" not in fields:
            self.fail(node, "`break_glass` needs `group:` (who may use --break-glass)")
            return None
        group = self.principals(fields["group"], "group")
        review = self.duration(fields["review_within"], "review_within") if "review_within" in fields else None
        if group is None or ("review_within" in fields and review is None):
            return None
        return group, review

    def match(self, node: yaml.Node) -> Match:
        fields = self.mapping(node, "`match`", MATCH_KEYS)
        if fields is None:
            return Match()
        subscriptions: list[str] = []
        for value, item in self.listed(fields, "subscription"):
            if not _GUID.fullmatch(value):
                self.fail(item, f"{value!r} in `subscription` is not a subscription id (a GUID)")
            subscriptions.append(value.lower())
        groups = [value for value, _ in self.listed(fields, "resource_group")]
        regions = [region_key(value) for value, _ in self.listed(fields, "region")]
        tags: dict[str, tuple[str, ...]] = {}
        if "tags" in fields:
            tag_node = fields["tags"]
            if not isinstance(tag_node, yaml.MappingNode) or not tag_node.value:
                self.fail(tag_node, "`tags` must map tag names to values, like `env: prod` or `env: [prod, staging]`")
            else:
                for key_node, value_node in tag_node.value:
                    name = str(key_node.value).strip().lower()
                    values = self.texts(value_node, f"tags.{name}")
                    if values is not None:
                        tags[name] = tuple(value for value, _ in values)
        return Match(tuple(subscriptions), tuple(groups), tuple(regions), tags)


def _has_group(principals: tuple[str, ...]) -> bool:
    return any(p.startswith("S") for p in principals)
