"""What a rules file says: each rule's scope (``Match``) and route, and the router that combines every rule that
applies to a VM at its strictest (``jit.strictest``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

from jit.model import VirtualMachine
from jit.routing import (
    Route,
)
from jit.settings import SettingsError
from jit.strictest import combine


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
        if self.regions and region_key(ref.location) not in self.regions:
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


def _glob(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def region_key(name: str) -> str:
    """A region name as the rules compare it: ``West Europe`` and ``westeurope`` are the same region."""
    return name.replace(" ", "").lower()
