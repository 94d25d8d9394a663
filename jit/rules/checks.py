"""`jitbot doctor`'s view of the rules: whether the file reads, what looks wrong, and every user group it names."""

from __future__ import annotations

from jit.checks import Check
from jit.model import RbacMode
from jit.principals import groups_in
from jit.routing import Router, SingleRouteRouter
from jit.rules.lint import lint_rules
from jit.rules.model import RulesError, RulesRouter
from jit.rules.reader import router_for
from jit.settings import Settings


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


def rbac_modes(router: Router) -> set[RbacMode]:
    """Every ``requester_rbac`` mode the routes of ``router`` name (the default route's included)."""
    routes = [router.default, *(rule.route for rule in router.rules)] if isinstance(router, RulesRouter) else []
    if isinstance(router, SingleRouteRouter):
        routes = [router.default]
    return {route.requester_rbac for route in routes if route.requester_rbac is not None}


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
