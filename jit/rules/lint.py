"""``jitbot doctor``'s warnings about a rules file that is valid but probably not doing what its author meant.

Tags on a VM can be written by anyone with ``Microsoft.Resources/tags/write`` (the Tag Contributor role), a far
weaker right than the network. Rules therefore combine at their strictest, and a rule matched by tags can only
add requirements to the VM's baseline (``jit.rules``). Two kinds of rule still deserve a warning:

- a tag rule **laxer** than a baseline it can meet (a scope rule whose VMs it may match, or the default route
  when some of its VMs match no scope rule): whatever it relaxes never applies, and it was presumably written
  to let tagged VMs in more easily — exactly what a tag must not do;
- a tag rule **stricter** than a baseline: those requirements hold only while the tag is there, and whoever
  may edit tags can remove them.

Besides, rules that can apply to one VM and name disjoint lists of user ids leave nobody able to ask, approve or
use break-glass there, and rules whose approver lists differ only let people on both approve. The overlap test
is conservative: two matches are taken to overlap unless some criterion they both name cannot hold at once.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jit.checks import Check
from jit.durations import humanize
from jit.model import RbacMode
from jit.principals import ALL_OF, is_group
from jit.routing import Route
from jit.strictest import RBAC_STRICTNESS

if TYPE_CHECKING:
    from jit.rules.model import Match, Rule, RulesRouter

AREA = "Rules"
_GLOB_CHARS = frozenset("*?[")


def lint_rules(router: RulesRouter) -> list[Check]:
    """Every warning for the rules of ``router`` (none: one passing line)."""
    warnings: list[Check] = []
    scope = [rule for rule in router.rules if not rule.by_tags]
    for rule in (r for r in router.rules if r.by_tags):
        warnings += _tag_rule_warnings(rule, _baselines(rule, scope, router.default))
    warnings += _nobody_warnings(router)
    if not warnings:
        return [Check.passed(AREA, "rules combine safely", "no tag rule loosens or alone protects a VM")]
    return warnings


def _baselines(rule: Rule, scope: Sequence[Rule], default: Route) -> list[tuple[str, Route]]:
    """The baselines ``rule`` can be combined with: overlapping scope rules, and the default route when some VM
    it matches may match no scope rule."""
    found = [(f"rule `{s.route.name}`", s.route) for s in scope if may_overlap(s.match, rule.match)]
    if not any(covers(s.match, rule.match) for s in scope):
        found.append(("the default route", default))
    return found


def _tag_rule_warnings(rule: Rule, baselines: list[tuple[str, Route]]) -> list[Check]:
    checks: list[Check] = []
    tags = _tags_text(rule.match)
    name = rule.route.name
    ignored = [f"its own `{key}`" for key in ("approval_channel", "remind_approvers") if key in rule.keys]
    for label, baseline in baselines:
        laxer = looser(rule.route, baseline, rule.keys) + ignored
        if laxer:
            checks.append(
                Check.warned(
                    AREA,
                    f"tag rule `{name}` (line {rule.line})",
                    f"it is matched by {tags} and is laxer than {label}: {', '.join(laxer)}. Tags only add "
                    f"requirements, so none of that applies where {label} applies; otherwise whoever may edit a "
                    "VM's tags could use it to get in more easily",
                    f"Match `{name}` by subscription, resource group or region (no tags) if it should apply to "
                    "those VMs; otherwise remove what it cannot loosen.",
                )
            )
    added = list(dict.fromkeys(item for _, baseline in baselines for item in stricter(rule.route, baseline)))
    if added:
        checks.append(
            Check.warned(
                AREA,
                f"tag rule `{name}` (line {rule.line})",
                f"it adds {', '.join(added)} only while a VM carries {tags}; whoever may edit the VM's tags can "
                "remove that",
                "Put requirements that must always hold in a rule matched by subscription, resource group or region.",
            )
        )
    return checks


def _nobody_warnings(router: RulesRouter) -> list[Check]:
    checks: list[Check] = []
    for a, b in itertools.combinations(router.rules, 2):
        if not may_overlap(a.match, b.match):
            continue
        pair = f"rules `{a.route.name}` and `{b.route.name}`"
        for what, first, second in (
            ("ask", a.route.requesters, b.route.requesters),
            ("approve", a.route.approvers, b.route.approvers),
            ("use break-glass", a.route.break_glass, b.route.break_glass),
        ):
            if _provably_disjoint(first, second):
                checks.append(
                    Check.warned(
                        AREA,
                        pair,
                        f"both can apply to one VM and name different people only; there nobody could {what}",
                        "Name a person or group in both lists, or make the matches exclusive.",
                    )
                )
        both = a.route.approvers and b.route.approvers
        if (
            both
            and set(a.route.approvers) != set(b.route.approvers)
            and not _provably_disjoint(a.route.approvers, b.route.approvers)
        ):
            checks.append(
                Check.warned(
                    AREA,
                    pair,
                    "both can apply to one VM; there only people in both approver lists may approve",
                    "Check that the approver groups share the people who should decide those VMs.",
                )
            )
    return checks


def looser(rule: Route, baseline: Route, keys: frozenset[str]) -> list[str]:
    """What ``rule`` relaxes compared with ``baseline`` through the ``keys`` it sets (a key a tag rule leaves out
    adds no condition, so only what it sets can show an intent to loosen)."""
    found: list[str] = []
    if "requesters" in keys and set(rule.requesters) != set(baseline.requesters):
        found.append("everyone may ask" if not rule.requesters else "other requesters")
    if "approvers" in keys and set(rule.approvers) - set(baseline.approvers):
        found.append("approvers besides the baseline's")
    if "quorum" in keys and rule.quorum < baseline.quorum:
        found.append(f"quorum {rule.quorum} instead of {baseline.quorum}")
    longest, limit = rule.max_duration, baseline.max_duration
    if "max_duration" in keys and longest is not None and limit is not None and longest > limit:
        found.append("a longer window")
    if "reason_required" in keys and baseline.reason_required and not rule.reason_required:
        found.append("no reason")
    if "auto_approve" in keys:
        found += _looser_auto(rule, baseline)
    if "escalation" in keys and rule.escalation and rule.escalation.approvers and not baseline.escalation:
        found.append("escalation to more approvers")
    if "break_glass" in keys and set(rule.break_glass) - set(baseline.break_glass):
        found.append("more people with break-glass")
    if "break_glass" in keys and rule.review_within > baseline.review_within:
        found.append("a later break-glass review")
    if "refuse_wide_sources" in keys and baseline.refuse_wide_sources and not rule.refuse_wide_sources:
        found.append("wide sources")
    if "requester_rbac" in keys and _rbac_rank(rule.requester_rbac) < _rbac_rank(baseline.requester_rbac):
        found.append(f"requester_rbac {rule.requester_rbac} instead of {baseline.requester_rbac}")
    return found


def _looser_auto(rule: Route, baseline: Route) -> list[str]:
    mine, theirs = rule.auto_approve, baseline.auto_approve
    if mine is None:
        return []
    if theirs is None:
        return ["automatic approval"]
    found: list[str] = []
    if theirs.max_duration and (mine.max_duration is None or mine.max_duration > theirs.max_duration):
        found.append("a longer automatic window")
    if theirs.ports and (not mine.ports or not set(mine.ports) <= set(theirs.ports)):
        found.append("automatic approval of more ports")
    if theirs.business_hours and not set(theirs.business_hours) <= set(mine.business_hours):
        found.append("automatic approval at other hours")
    if theirs.requesters and set(mine.requesters) != set(theirs.requesters):
        found.append("automatic approval of other people")
    return found


def stricter(rule: Route, baseline: Route) -> list[str]:
    """What ``rule`` adds to ``baseline`` (empty: nothing)."""
    found: list[str] = []
    if rule.requesters and set(rule.requesters) != set(baseline.requesters):
        found.append("a list of who may ask")
    if rule.approvers and set(rule.approvers) != set(baseline.approvers):
        found.append("its approvers")
    if rule.quorum > baseline.quorum:
        found.append(f"quorum {rule.quorum}")
    if rule.max_duration and (baseline.max_duration is None or rule.max_duration < baseline.max_duration):
        found.append(f"a maximum of {humanize(rule.max_duration)}")
    if rule.reason_required and not baseline.reason_required:
        found.append("a required reason")
    if rule.ticket_pattern and rule.ticket_pattern != baseline.ticket_pattern:
        found.append("a ticket")
    if rule.auto_approve is None and baseline.auto_approve is not None:
        found.append("approval by a person")
    if rule.refuse_wide_sources and not baseline.refuse_wide_sources:
        found.append("refusing wide sources")
    if rule.requester_rbac is not None and _rbac_rank(rule.requester_rbac) > _rbac_rank(baseline.requester_rbac):
        found.append(f"requester_rbac {rule.requester_rbac}")
    return found


def _rbac_rank(mode: RbacMode | None) -> int:
    return -1 if mode is None else RBAC_STRICTNESS.index(mode)


def may_overlap(a: Match, b: Match) -> bool:
    """Whether some VM (with some tags) could match both; False only when a shared criterion cannot hold."""
    if a.subscriptions and b.subscriptions and not set(a.subscriptions) & set(b.subscriptions):
        return False
    if a.regions and b.regions and not set(a.regions) & set(b.regions):
        return False
    if a.resource_groups and b.resource_groups and not _globs_overlap(a.resource_groups, b.resource_groups):
        return False
    return all(_globs_overlap(a.tags[key], b.tags[key]) for key in set(a.tags) & set(b.tags))


def covers(scope: Match, other: Match) -> bool:
    """Whether every VM ``other`` matches, whatever its tags, also matches ``scope`` (a rule without tags)."""
    for wide, narrow, globbing in (
        (scope.subscriptions, other.subscriptions, False),
        (scope.regions, other.regions, False),
        (scope.resource_groups, other.resource_groups, True),
    ):
        if not wide:
            continue
        if not narrow or not all(any(_within(v, w, globbing) for w in wide) for v in narrow):
            return False
    return True


def _within(value: str, pattern: str, globbing: bool) -> bool:
    if value.lower() == pattern.lower():
        return True
    return globbing and not _is_glob(value) and fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _globs_overlap(first: Sequence[str], second: Sequence[str]) -> bool:
    return any(_glob_pair(x.lower(), y.lower()) for x in first for y in second)


def _glob_pair(x: str, y: str) -> bool:
    if not _is_glob(x) and not _is_glob(y):
        return x == y
    if not _is_glob(x):
        return fnmatch.fnmatchcase(x, y)
    if not _is_glob(y):
        return fnmatch.fnmatchcase(y, x)
    px, py = _literal_prefix(x), _literal_prefix(y)
    return px.startswith(py) or py.startswith(px)


def _is_glob(value: str) -> bool:
    return any(c in _GLOB_CHARS for c in value)


def _literal_prefix(pattern: str) -> str:
    cut = min((pattern.index(c) for c in _GLOB_CHARS if c in pattern), default=len(pattern))
    return pattern[:cut]


def _provably_disjoint(first: Sequence[str], second: Sequence[str]) -> bool:
    """Two non-empty lists of plain user ids with no one in common (groups could always share someone)."""
    if not first or not second or any(is_group(p) or ALL_OF in p for p in (*first, *second)):
        return False
    return not set(first) & set(second)


def _tags_text(match: Match) -> str:
    return " and ".join(f"tag {name}={'|'.join(values)}" for name, values in match.tags.items())
