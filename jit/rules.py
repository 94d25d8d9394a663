"""Per-scope routing rules from the YAML file in ``JITBOT_RULES_FILE``: who may ask for a VM, who approves and
where, how long, and when access is granted without a person.

Every rule whose ``match`` fits a VM applies, and they combine into the strictest requirement of each
(``jit.strictest``), so no rule can loosen another. Rules matched only by subscription, resource group and
region (scope rules) form the VM's **baseline**; a VM no scope rule matches has the ``default`` route (from the
environment, ``JITBOT_APPROVERS`` …, extended by the file's optional ``default:`` section) as its baseline.
Rules whose ``match`` names tags can only add requirements to that baseline: tags are writable by people with
far fewer rights than the network, so a tag must never be a way in (docs/lifecycle.md, "Several rules on one
VM").

Why a hand-written validator instead of a schema library: every mistake must name its line (from YAML's node
marks), and all mistakes are reported at once so an operator fixes the file in one go.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from jit.checks import Check
from jit.durations import DurationError, humanize, parse_duration
from jit.model import MAX_ACCESS, MIN_ACCESS, WELL_KNOWN_PORTS, VirtualMachine
from jit.principals import ALL_OF, NOBODY, conjuncts, groups_in
from jit.routing import (
    WEEKDAY_NAMES,
    AutoApproval,
    BusinessHours,
    ConflictChoice,
    Escalation,
    Route,
    Router,
    SingleRouteRouter,
)
from jit.rules_lint import lint_rules
from jit.settings import Settings, SettingsError
from jit.strictest import combine

_PRINCIPAL = re.compile(r"[UWS][A-Z0-9]{2,}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")
MAX_QUORUM = 10
MAX_REMINDERS = 10


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
)
DEFAULT_KEYS = tuple(k for k in RULE_KEYS if k not in ("name", "match"))
MATCH_KEYS = ("subscription", "resource_group", "region", "tags")
ESCALATION_KEYS = ("after", "to", "channel")
AUTO_KEYS = ("requesters", "deny", "max_duration", "ports", "business_hours")
HOURS_KEYS = ("timezone", "days", "start", "end")
BREAK_GLASS_KEYS = ("group", "review_within")


class RulesError(SettingsError):
    """The rules file is unusable; ``problems`` are ``file:line: what is wrong`` lines, every one found.

    A SettingsError, so ``jitbot serve`` and ``jitbot doctor`` refuse to start with the list, like any setting.
    """


@dataclass(frozen=True)
class Match:
    """Which VMs a rule covers: every criterion given must hold; a list means any of its values."""

    subscriptions: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def matches(self, vm: VirtualMachine) -> bool:
        """Whether ``vm`` is in scope: subscription and region exactly, resource group and tag values by glob,
        all case-insensitively (Azure treats these names case-insensitively)."""
        ref = vm.ref
        if self.subscriptions and ref.subscription_id.lower() not in self.subscriptions:
            return False
        if self.resource_groups and not any(_glob(ref.resource_group, g) for g in self.resource_groups):
            return False
        if self.regions and _region(ref.location) not in self.regions:
            return False
        tags = {k.lower(): v for k, v in vm.tags.items()}
        for name, patterns in self.tags.items():
            value = tags.get(name)
            if value is None or not any(_glob(value, p) for p in patterns):
                return False
        return True

    def describe(self) -> str:
        """The criteria as people read them, for ``/jit help <vm>``."""
        parts: list[str] = []
        if self.subscriptions:
            parts.append("subscription " + " or ".join(self.subscriptions))
        if self.resource_groups:
            parts.append("resource group " + " or ".join(self.resource_groups))
        if self.regions:
            parts.append("region " + " or ".join(self.regions))
        parts += [f"tag {name}={' or '.join(values)}" for name, values in self.tags.items()]
        return ", ".join(parts) or "every VM"


@dataclass(frozen=True)
class Rule:
    """One entry of ``rules:``: its scope, the route it gives, the line it starts on and the keys it sets.

    A scope rule inherits where to ask (approvers, channel, reminders, break-glass) from the default route. A rule
    matched by tags inherits no approvers or break-glass group: it only narrows what it names.
    """

    match: Match
    route: Route
    line: int
    keys: frozenset[str] = frozenset()

    @property
    def by_tags(self) -> bool:
        """Whether the rule's ``match`` names tags: then it can only add requirements to a VM's baseline."""
        return bool(self.match.tags)


@dataclass(frozen=True)
class Applicable:
    """The rules that apply to one VM: its scope rules (none: the default route is its baseline) and the rules
    it matched through tags, each in file order."""

    scope: tuple[Rule, ...]
    tagged: tuple[Rule, ...]


@dataclass(frozen=True)
class RulesRouter:
    """Implements ``jit.routing.Router``: every matching rule applies, combined at its strictest."""

    rules: tuple[Rule, ...]
    default: Route

    def applicable(self, vm: VirtualMachine) -> Applicable:
        """Which rules apply to ``vm``, for the route and for explanations."""
        matching = [rule for rule in self.rules if rule.match.matches(vm)]
        return Applicable(
            tuple(rule for rule in matching if not rule.by_tags), tuple(rule for rule in matching if rule.by_tags)
        )

    def route(self, vm: VirtualMachine) -> Route:
        """The baseline (scope rules, or the default route) tightened by the rules ``vm`` matches through tags."""
        found = self.applicable(vm)
        baseline = [rule.route for rule in found.scope] or [self.default]
        return combine(baseline, [rule.route for rule in found.tagged])


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
    )
    if settings.rules_file is None:
        return SingleRouteRouter(default)
    return load_rules(settings.rules_file, default)


def rules_checks(settings: Settings) -> list[Check]:
    """``jitbot doctor``'s lines for the rules file: one failure per problem, or how many rules it read."""
    if settings.rules_file is None:
        return [Check.passed("Rules", "routing rules", "no JITBOT_RULES_FILE: every VM uses the default route")]
    try:
        router = router_for(settings)
    except RulesError as exc:
        fix = "Correct that line of the rules file (docs/lifecycle.md describes every key)."
        return [Check.failed("Rules", "routing rules", problem, fix) for problem in exc.problems]
    if not isinstance(router, RulesRouter):
        return [Check.passed("Rules", "routing rules", f"0 rules read from {settings.rules_file}")]
    read = Check.passed("Rules", "routing rules", f"{len(router.rules)} rules read from {settings.rules_file}")
    return [read, *lint_rules(router)]


def groups_named(settings: Settings) -> dict[str, list[str]]:
    """Every user group the configuration names (environment and rules), with where it is named, for doctor.

    A broken rules file contributes nothing here: ``rules_checks`` reports it.
    """
    places: dict[str, list[str]] = {}

    def note(principals: tuple[str, ...], where: str) -> None:
        for group in groups_in(principals):
            places.setdefault(group, []).append(where)

    note(settings.approvers, "JITBOT_APPROVERS")
    note(settings.admins, "JITBOT_ADMINS")
    note(settings.break_glass_group, "JITBOT_BREAK_GLASS_GROUP")
    try:
        router = router_for(settings)
    except RulesError:
        return places
    if isinstance(router, RulesRouter):
        for label, route in [
            ("`default`", router.default),
            *((f"rule `{r.route.name}`", r.route) for r in router.rules),
        ]:
            note(route.requesters, f"{label} requesters")
            note(route.approvers, f"{label} approvers")
            note(route.escalation.approvers if route.escalation else (), f"{label} escalation")
            note(route.auto_approve.requesters if route.auto_approve else (), f"{label} auto_approve requesters")
            note(route.auto_approve.deny if route.auto_approve else (), f"{label} auto_approve deny")
            note(route.break_glass, f"{label} break_glass")
    return {group: list(dict.fromkeys(where)) for group, where in places.items()}


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


def explain_route(router: Router, vm: VirtualMachine) -> str:
    """``/jit help <vm>``: which rules apply to ``vm``, how they combine, and what that means, as plain text."""
    name = f"`{vm.ref.name}`"
    if not isinstance(router, RulesRouter):
        return f"{name} follows " + describe_route(router.route(vm))
    found = router.applicable(vm)
    route = router.route(vm)
    if not found.tagged and len(found.scope) <= 1:
        rule = found.scope[0] if found.scope else None
        return f"{name} follows " + describe_route(route, rule.match if rule else None)
    parts = [_rule_phrase(rule) for rule in found.scope] or ["the default route"]
    parts += [_rule_phrase(rule) + ", through its tags" for rule in found.tagged]
    lines = [
        f"{name} follows {len(parts)} rules combined: " + "; ".join(parts) + ".",
        "Every requirement applies at its strictest (tags can only add requirements, never remove them):",
    ]
    return "\n".join(lines + _route_lines(route))


def _rule_phrase(rule: Rule) -> str:
    return f"rule `{rule.route.name}` (matches {rule.match.describe()})"


def describe_route(route: Route, match: Match | None = None) -> str:
    """Plain text saying what a route means for a requester: who approves, limits, automation, break-glass."""
    lines = [f"rule `{route.name}`" + (f" (matches {match.describe()})" if match else " (the default)") + "."]
    return "\n".join(lines + _route_lines(route))


def describe_principals(principals: tuple[str, ...], joiner: str = ", ") -> str:
    """Principals as people read them: ``S0A, (S0B and S0C)``; ``nobody`` when no one qualifies."""
    return joiner.join(_spelled(principal) for principal in principals) or "nobody"


def _spelled(principal: str) -> str:
    if principal == NOBODY:
        return "nobody"
    if ALL_OF in principal:
        return "(" + " and ".join(conjuncts(principal)) + ")"
    return principal


def _route_lines(route: Route) -> list[str]:
    lines = ["Who may ask: " + (describe_principals(route.requesters) if route.requesters else "everyone") + "."]
    approvals = f"{route.quorum} distinct approvals" if route.quorum > 1 else "one approval"
    lines.append(f"Needs {approvals} from {describe_principals(route.approvers)} in {route.approval_channel}.")
    if route.max_duration:
        lines.append(f"Longest window: {humanize(route.max_duration)}.")
    if route.ticket_pattern:
        lines.append(f"The reason must mention a ticket matching {route.ticket_pattern}.")
    elif route.reason_required:
        lines.append("A reason is required.")
    if route.refuse_wide_sources:
        lines.append("Wide source ranges are refused.")
    if route.auto_approve:
        lines.append("Granted automatically when " + _describe_auto(route.auto_approve) + ".")
    if route.escalation:
        esc = route.escalation
        to = describe_principals(esc.approvers) if esc.approvers else "the same approvers"
        where = f" in {esc.channel}" if esc.channel else ""
        lines.append(f"Escalates to {to}{where} after {humanize(esc.after)} without a decision.")
    if route.break_glass:
        glass = describe_principals(route.break_glass)
        lines.append(f"Break-glass: {glass}, reviewed within {humanize(route.review_within)}.")
    if route.on_conflict is not ConflictChoice.SUPERSEDE:
        waits = "waits until it ends" if route.on_conflict is ConflictChoice.QUEUE else "is refused"
        lines.append(f"A grant that would close someone else's access to the same port from another source {waits}.")
    return lines


def _describe_auto(auto: AutoApproval) -> str:
    parts: list[str] = []
    if auto.requesters:
        parts.append("the requester is in " + describe_principals(auto.requesters, " or "))
    if auto.max_duration:
        parts.append(f"the window is at most {humanize(auto.max_duration)}")
    if auto.ports:
        parts.append("only ports " + ", ".join(map(str, auto.ports)) + " are asked for")
    parts += ["within " + hours.describe() for hours in auto.business_hours]
    text = " and ".join(parts)
    if auto.deny:
        text += " (never for " + describe_principals(auto.deny) + ")"
    return text


def _glob(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _region(name: str) -> str:
    return name.replace(" ", "").lower()


class _Reader:
    """Walks the composed YAML nodes, building typed values and collecting ``file:line: problem`` lines."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[tuple[int, str]] = []

    def fail(self, node: yaml.Node, problem: str) -> None:
        self.found.append((node.start_mark.line + 1, f"{self.source}:{node.start_mark.line + 1}: {problem}"))

    @property
    def problems(self) -> list[str]:
        """Every problem, in file order."""
        return [text for _, text in sorted(self.found, key=lambda found: found[0])]

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

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping of `key: value` lines")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.fail(key_node, f"{what} has a key that is not plain text")
                continue
            if key in out:
                self.fail(key_node, f"`{key}` appears twice in {what}")
                continue
            if key not in allowed:
                guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean `{guess[0]}`?)" if guess else f"; allowed: {', '.join(allowed)}"
                self.fail(key_node, f"unknown key `{key}` in {what}{hint}")
                continue
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node, key: str) -> yaml.ScalarNode | None:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"`{key}` must be a single value")
            return None
        return node

    def text(self, node: yaml.Node, key: str) -> str | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        value = str(scalar.value).strip()
        if not value:
            self.fail(node, f"`{key}` is empty")
            return None
        return value

    def texts(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node]] | None:
        """A value or a list of values (``a`` or ``[a, b]``), each with its node for line numbers."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[tuple[str, yaml.Node]] = []
        for item in items:
            value = self.text(item, key)
            if value is None:
                return None
            out.append((value, item))
        return out

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

    def flag(self, node: yaml.Node, key: str) -> bool | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        if scalar.tag != "tag:yaml.org,2002:bool":
            self.fail(node, f"`{key}` must be true or false, not {scalar.value!r}")
            return None
        return str(scalar.value).lower() in ("true", "yes", "on", "y")

    def principals(self, node: yaml.Node, key: str, *, allow_empty: bool = True) -> tuple[str, ...] | None:
        items = self.texts(node, key) if not _empty_list(node) else []
        if items is None:
            return None
        if not items and not allow_empty:
            self.fail(node, f"`{key}` needs at least one user id (U…) or user group id (S…)")
            return None
        for value, item in items:
            if not _PRINCIPAL.fullmatch(value):
                self.fail(item, f"{value!r} in `{key}` is not a Slack user id (U…/W…) or user group id (S…)")
                return None
        return tuple(dict.fromkeys(value for value, _ in items))

    def channel(self, node: yaml.Node, key: str) -> str | None:
        value = self.text(node, key)
        if value is not None and not _CHANNEL.fullmatch(value):
            self.fail(node, f"{value!r} in `{key}` is not a channel id (C… or G…; names can change, ids do not)")
            return None
        return value

    def duration(self, node: yaml.Node, key: str) -> timedelta | None:
        value = self.text(node, key)
        if value is None:
            return None
        try:
            parsed = parse_duration(value)
        except DurationError:
            self.fail(node, f"`{key}: {value}` is not a duration; write it like 30m, 2h, 1h30m or PT2H")
            return None
        if parsed <= timedelta(0):
            self.fail(node, f"`{key}` must be longer than zero")
            return None
        return parsed

    def window(self, node: yaml.Node, key: str) -> timedelta | None:
        value = self.duration(node, key)
        if value is not None and not MIN_ACCESS <= value <= MAX_ACCESS:
            self.fail(
                node, f"`{key}` must be between {humanize(MIN_ACCESS)} and {humanize(MAX_ACCESS)} (Azure's limits)"
            )
            return None
        return value

    def pattern(self, node: yaml.Node) -> str | None:
        value = self.text(node, "ticket_pattern")
        if value is None:
            return None
        try:
            re.compile(value)
        except re.error as exc:
            self.fail(node, f"`ticket_pattern` {value!r} is not a regular expression: {exc}")
            return None
        return value

    def quorum(self, node: yaml.Node) -> int | None:
        scalar = self.scalar(node, "quorum")
        if scalar is None:
            return None
        if scalar.tag != "tag:yaml.org,2002:int" or not 1 <= int(scalar.value) <= MAX_QUORUM:
            self.fail(node, f"`quorum` must be a whole number from 1 to {MAX_QUORUM}, not {scalar.value!r}")
            return None
        return int(scalar.value)

    def reminders(self, node: yaml.Node) -> tuple[timedelta, ...] | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            if str(node.value).lower() in ("false", "no", "off", "n"):
                return ()
            self.fail(node, "`remind_approvers` is a list of waits like [5m, 10m, 20m], or false")
            return None
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, "`remind_approvers` is a list of waits like [5m, 10m, 20m], or false")
            return None
        if len(node.value) > MAX_REMINDERS:
            self.fail(node, f"`remind_approvers` may list at most {MAX_REMINDERS} waits")
            return None
        waits = [self.duration(item, "remind_approvers") for item in node.value]
        return None if any(w is None for w in waits) else tuple(w for w in waits if w is not None)

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

    def ports(self, node: yaml.Node) -> tuple[int, ...] | None:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        ports: list[int] = []
        for item in items:
            scalar = self.scalar(item, "ports")
            if scalar is None:
                return None
            value = str(scalar.value).strip().lower()
            if value in WELL_KNOWN_PORTS:
                ports.extend(WELL_KNOWN_PORTS[value])
            elif value.isdigit() and 1 <= int(value) <= 65535:
                ports.append(int(value))
            else:
                self.fail(item, f"{scalar.value!r} in `ports` is not a port (ssh, rdp, winrm or 1-65535)")
                return None
        if not ports:
            self.fail(node, "`ports` needs at least one port")
            return None
        return tuple(dict.fromkeys(ports))

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

    def clock(self, node: yaml.Node, key: str) -> time | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        value = str(scalar.value).strip()
        if scalar.tag == "tag:yaml.org,2002:int":
            self.fail(node, f'`{key}` must be quoted, like "09:00" (YAML reads 09:00 unquoted as a number)')
            return None
        found = _CLOCK.fullmatch(value)
        if not found or (found.group(1) == "24" and found.group(2) != "00"):
            self.fail(node, f'`{key}: {value}` is not a time of day like "09:00"')
            return None
        hour, minute = int(found.group(1)), int(found.group(2))
        return time.max if hour == 24 else time(hour, minute)

    def days(self, node: yaml.Node) -> frozenset[int] | None:
        items = self.texts(node, "days")
        if items is None:
            return None
        days: set[int] = set()
        for value, item in items:
            for part in value.lower().replace(" ", "").split(","):
                first, _, last = part.partition("-")
                if first not in WEEKDAY_NAMES or (last and last not in WEEKDAY_NAMES):
                    self.fail(item, f"{value!r} in `days` is not a day or range like mon-fri, sat, sun")
                    return None
                a, b = WEEKDAY_NAMES.index(first), WEEKDAY_NAMES.index(last or first)
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        return frozenset(days)

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
        regions = [_region(value) for value, _ in self.listed(fields, "region")]
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

    def listed(self, fields: Mapping[str, yaml.Node], key: str) -> list[tuple[str, yaml.Node]]:
        return (self.texts(fields[key], key) or []) if key in fields else []


def _empty_list(node: yaml.Node) -> bool:
    return isinstance(node, yaml.SequenceNode) and not node.value


def _has_group(principals: tuple[str, ...]) -> bool:
    return any(p.startswith("S") for p in principals)
