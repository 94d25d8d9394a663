"""Per-scope routing rules from the YAML file in ``JITBOT_RULES_FILE``: who may ask for a VM, who approves and
where, how long, and when access is granted without a person.

Every rule whose ``match`` fits a VM applies, and they combine into the strictest requirement of each
(``jit.strictest``), so no rule can loosen another. Rules matched only by subscription, resource group and
region (scope rules) form the VM's **baseline**; a VM no scope rule matches has the ``default`` route (from the
environment, ``JITBOT_APPROVERS`` …, extended by the file's optional ``default:`` section) as its baseline.
Rules whose ``match`` names tags can only add requirements to that baseline: tags are writable by people with
far fewer rights than the network, so a tag must never be a way in (docs/lifecycle.md, "Several rules on one
VM").

``model`` holds the rules and the router, ``reader`` reads the file, ``describe`` explains a route, ``lint`` and
``checks`` are `jitbot doctor`'s view of it.
"""

from __future__ import annotations

from jit.rules.checks import groups_named, rbac_modes, rules_checks
from jit.rules.describe import describe_principals, describe_route, explain_route
from jit.rules.model import Match, Rule, RulesError, RulesRouter
from jit.rules.reader import load_rules, parse_rules, router_for

__all__ = [
    "Match",
    "Rule",
    "RulesError",
    "RulesRouter",
    "describe_principals",
    "describe_route",
    "explain_route",
    "groups_named",
    "load_rules",
    "parse_rules",
    "rbac_modes",
    "router_for",
    "rules_checks",
]
