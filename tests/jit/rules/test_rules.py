"""The routing rules file: every matching rule applies at its strictest, tags only add requirements, the default
route from the environment, errors that name lines, and doctor's warnings about rules that look wrong."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from jit.checks import Verdict
from jit.model import RbacMode, VirtualMachine, VmRef
from jit.routing import AutoApproval, BusinessHours, Escalation, Route, SingleRouteRouter
from jit.rules import (
    Match,
    RulesError,
    RulesRouter,
    describe_route,
    explain_route,
    load_rules,
    parse_rules,
    router_for,
    rules_checks,
)
from jit.rules.lint import lint_rules
from jit.rules.model import Applicable
from jit.settings import Settings

PROD = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e01"
LAB = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e02"
DEFAULT = Route(name="default", approvers=("S0APPROVRS",), approval_channel="C0APPROVAL")
HOURS = "rules:\n  - name: a\n    auto_approve:\n      business_hours: "
DOCS = Path(__file__).resolve().parents[3] / "docs" / "lifecycle.md"


def vm(
    name: str = "web-01",
    *,
    subscription: str = PROD,
    group: str = "rg-web",
    region: str = "westeurope",
    tags: dict[str, str] | None = None,
) -> VirtualMachine:
    vm_id = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"
    return VirtualMachine(VmRef(vm_id, subscription, group, name, region), tags=tags or {})


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, DEFAULT, source="rules.yaml")
    return caught.value.problems


FULL = """
default:
  remind_approvers: [10m, 20m]
  break_glass: {group: S0GLASS, review_within: 30m}
rules:
  - name: crown-jewels
    match:
      resource_group: rg-data*
    requesters: [S0DBAS, U0ENGINE01]
    approvers: [S0SECURITY]
    approval_channel: C0SECURITY
    max_duration: 2h
    ticket_pattern: 'INC-\\d+'
    quorum: 2
    escalation: {after: 15m, to: [S0LEADS], channel: C0ESCALATE}
  - name: web-oncall
    match: {subscription: 3F2B8C1E-5D4A-4E7B-9C6F-1A2B3C4D5E01, region: West Europe}
    auto_approve:
      requesters: [S0ONCALL]
      deny: [U0CONTRACT]
      max_duration: 1h
      ports: [ssh, 8080]
      business_hours: {timezone: Europe/Berlin, days: mon-fri, start: "09:00", end: "18:00"}
  - name: lab
    match: {subscription: [3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e02]}
    remind_approvers: false
    reason_required: true
"""


def test_full_file_builds_every_field() -> None:
    router = parse_rules(FULL, DEFAULT)

    jewels, web, lab = (rule.route for rule in router.rules)
    assert [rule.line for rule in router.rules] == [6, 16, 24]
    assert jewels == Route(
        name="crown-jewels",
        approvers=("S0SECURITY",),
        approval_channel="C0SECURITY",
        requesters=("S0DBAS", "U0ENGINE01"),
        max_duration=timedelta(hours=2),
        reason_required=True,
        ticket_pattern=r"INC-\d+",
        quorum=2,
        approver_reminders=(timedelta(minutes=10), timedelta(minutes=20)),
        escalation=Escalation(timedelta(minutes=15), ("S0LEADS",), "C0ESCALATE"),
        break_glass=("S0GLASS",),
        review_within=timedelta(minutes=30),
    )
    assert web.auto_approve == AutoApproval(
        requesters=("S0ONCALL",),
        deny=("U0CONTRACT",),
        max_duration=timedelta(hours=1),
        ports=(22, 8080),
        business_hours=(BusinessHours("Europe/Berlin", time(9), time(18), frozenset(range(5))),),
    )
    assert web.approvers == DEFAULT.approvers and web.approval_channel == DEFAULT.approval_channel
    assert web.quorum == 1 and web.escalation is None
    assert lab.approver_reminders == () and lab.reason_required


def test_default_section_extends_the_environment_route() -> None:
    router = parse_rules(FULL, DEFAULT)

    assert router.default.name == "default"
    assert router.default.approvers == DEFAULT.approvers
    assert router.default.approver_reminders == (timedelta(minutes=10), timedelta(minutes=20))
    assert router.default.break_glass == ("S0GLASS",)


def test_scope_rules_apply_and_unmatched_vms_get_the_default() -> None:
    router = parse_rules(FULL, DEFAULT)

    assert router.route(vm("db-01", group="rg-data", region="northeurope")).name == "crown-jewels"
    assert router.route(vm("db-02", group="RG-DATA-2", region="North Europe")).name == "crown-jewels"
    assert router.route(vm("web-01", group="rg-web", tags={"env": "dev"})).name == "web-oncall"
    assert router.route(vm("lab-01", subscription=LAB, group="rg-lab")).name == "lab"
    assert router.route(vm("x", subscription=LAB, region="eastus")).name == "lab"
    other = "00000000-0000-0000-0000-000000000000"
    assert router.route(vm("elsewhere", subscription=other, region="eastus")).name == "default"
    assert router.applicable(vm("elsewhere", subscription=other)) == Applicable((), ())


def test_rules_that_both_match_combine_instead_of_the_first_winning() -> None:
    router = parse_rules(FULL, DEFAULT)

    both = router.route(vm("db-03", group="rg-data", region="westeurope"))

    assert both.name == "crown-jewels+web-oncall"
    assert both.quorum == 2 and both.auto_approve is None and both.approvers == ("S0APPROVRS&S0SECURITY",)
    assert both.approval_channel == "C0SECURITY" and both.max_duration == timedelta(hours=2)


def test_no_file_content_means_only_the_default() -> None:
    assert parse_rules("", DEFAULT).route(vm()) == DEFAULT
    assert parse_rules("rules: []", DEFAULT).route(vm()) == DEFAULT


def test_match_without_criteria_covers_every_vm() -> None:
    router = parse_rules("rules:\n  - name: all\n    quorum: 1\n", DEFAULT)

    assert router.route(vm("anything", subscription=LAB, region="japaneast")).name == "all"
    assert Match().describe() == "every VM"


def test_tag_values_are_globs_and_a_missing_tag_never_matches() -> None:
    match = Match(tags={"team": ("pay*", "billing")})

    assert match.matches(vm(tags={"Team": "payments"}))
    assert match.matches(vm(tags={"team": "billing"}))
    assert not match.matches(vm(tags={"team": "search"}))
    assert not match.matches(vm(tags={}))


def test_load_rules_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: a\n    quorum: many\n", encoding="utf-8")

    with pytest.raises(RulesError) as caught:
        load_rules(path, DEFAULT)

    assert caught.value.problems == [f"{path}:3: `quorum` must be a whole number from 1 to 10, not 'many'"]
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml", DEFAULT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - name: a\n    aprovers: [S0X]\n",
            "rules.yaml:3: unknown key `aprovers` in a rule (did you mean `approvers`?)",
        ),
        ("rules:\n  - name: a\n    max_duration: 2 hours\n", "rules.yaml:3: `max_duration: 2 hours` is not a duration"),
        ("rules:\n  - name: a\n    max_duration: 2d\n", "rules.yaml:3: `max_duration` must be between 5m and 1d"),
        ("rules:\n  - name: a\n    quorum: 0\n", "rules.yaml:3: `quorum` must be a whole number from 1 to 10"),
        ("rules:\n  - name: a\n    approvers: [bob]\n", "rules.yaml:3: 'bob' in `approvers` is not a Slack user id"),
        ("rules:\n  - name: a\n    approvers: []\n", "rules.yaml:3: `approvers` needs at least one"),
        (
            "rules:\n  - name: a\n    approval_channel: '#ops'\n",
            "rules.yaml:3: '#ops' in `approval_channel` is not a channel id",
        ),
        (
            "rules:\n  - name: a\n    ticket_pattern: 'INC-(\\d+'\n",
            "rules.yaml:3: `ticket_pattern` 'INC-(",
        ),
        ("rules:\n  - name: a\n    reason_required: maybe\n", "rules.yaml:3: `reason_required` must be true or false"),
        ("rules:\n  - quorum: 2\n", "rules.yaml:2: a rule needs a `name`"),
        ("rules:\n  - name: a b\n", "rules.yaml:2: rule name 'a b' may use only"),
        (
            "rules:\n  - name: default\n",
            "rules.yaml:2: rule name 'default' is used twice (the name of the default route)",
        ),
        ("rules:\n  - name: a\n  - name: a\n", "rules.yaml:3: rule name 'a' is used twice (first used on line 2)"),
        ("rules:\n  - name: a\n    quorum: 1\n    quorum: 2\n", "rules.yaml:4: `quorum` appears twice in a rule"),
        ("rules:\n  name: a\n", "rules.yaml:2: `rules` must be a list"),
        ("rulez: []\n", "rules.yaml:1: unknown key `rulez` in the rules file (did you mean `rules`?)"),
        ("- name: a\n", "rules.yaml:1: the rules file must be a mapping"),
        (
            "rules:\n  - name: a\n    match: {subscription: prod}\n",
            "rules.yaml:3: 'prod' in `subscription` is not a subscription id",
        ),
        ("rules:\n  - name: a\n    match: {vm: web-01}\n", "rules.yaml:3: unknown key `vm` in `match`"),
        ("rules:\n  - name: a\n    match: {tags: prod}\n", "rules.yaml:3: `tags` must map tag names to values"),
        ("rules:\n  - name: a\n    escalation: {to: [S0X]}\n", "rules.yaml:3: `escalation` needs `after:`"),
        ("rules:\n  - name: a\n    escalation: {after: 5m}\n", "rules.yaml:3: `escalation` needs `to:`"),
        (
            "rules:\n  - name: a\n    auto_approve: {deny: [U0X1]}\n",
            "rules.yaml:3: `auto_approve` needs at least one condition",
        ),
        (
            "rules:\n  - name: a\n    auto_approve: {ports: [telnet]}\n",
            "rules.yaml:3: 'telnet' in `ports` is not a port",
        ),
        (
            HOURS + "{timezone: Mars/Olympus, start: '09:00', end: '17:00'}\n",
            "rules.yaml:4: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            HOURS + "{timezone: UTC, start: 9:00, end: '17:00'}\n",
            "rules.yaml:4: `start` must be quoted",
        ),
        (
            HOURS + "{timezone: UTC, start: '18:00', end: '09:00'}\n",
            "rules.yaml:4: `end` must be later than `start`",
        ),
        (
            HOURS + "{timezone: UTC, days: weekdays, start: '9:00', end: '17:00'}\n",
            "rules.yaml:4: 'weekdays' in `days` is not a day",
        ),
        (
            HOURS + "{timezone: UTC}\n",
            "rules.yaml:4: `business_hours` needs `start`, `end`",
        ),
        ("rules:\n  - name: a\n    break_glass: {review_within: 1h}\n", "rules.yaml:3: `break_glass` needs `group:`"),
        (
            "rules:\n  - name: a\n    remind_approvers: [5m, soon]\n",
            "rules.yaml:3: `remind_approvers: soon` is not a duration",
        ),
        ("rules:\n  - name: a\n    remind_approvers: true\n", "rules.yaml:3: `remind_approvers` is a list"),
        (
            "rules:\n  - name: a\n    approvers: [U0A1, U0B1]\n    quorum: 3\n",
            "rules.yaml:4: quorum 3 needs at least 3 approvers",
        ),
        ("rules: [name: a\n", "rules.yaml:2: not valid YAML"),
    ],
)
def test_each_mistake_is_reported_with_its_line(text: str, expected: str) -> None:
    found = problems(text)

    assert any(p.startswith(expected) for p in found), found


def test_every_mistake_is_reported_at_once_in_file_order() -> None:
    found = problems("rules:\n  - name: a\n    quorum: 0\n  - name: b\n    max_duration: soon\n    approvers: [x]\n")

    assert [p.split(":")[1] for p in found] == ["3", "5", "6"]


def test_a_group_lets_a_quorum_exceed_the_named_approvers() -> None:
    router = parse_rules("rules:\n  - name: a\n    approvers: [S0TEAM]\n    quorum: 3\n", DEFAULT)

    assert router.rules[0].route.quorum == 3


def test_ticket_pattern_implies_a_reason_is_required() -> None:
    route = parse_rules("rules:\n  - name: a\n    ticket_pattern: 'CHG-\\d+'\n", DEFAULT).rules[0].route

    assert route.reason_required and route.ticket_pattern == r"CHG-\d+"


def test_break_glass_shorthand_is_a_list_of_principals() -> None:
    route = parse_rules("rules:\n  - name: a\n    break_glass: [S0SRE, U0ONCALL01]\n", DEFAULT).rules[0].route

    assert route.break_glass == ("S0SRE", "U0ONCALL01")
    assert route.review_within == DEFAULT.review_within


def test_business_hours_use_the_local_time_of_their_zone() -> None:
    hours = BusinessHours("Europe/Berlin", time(9), time(18), frozenset(range(5)))

    monday_morning_utc = datetime(2026, 11, 30, 7, 59, tzinfo=UTC)
    assert not hours.contains(monday_morning_utc)
    assert hours.contains(monday_morning_utc + timedelta(minutes=1))
    assert hours.contains(datetime(2026, 11, 30, 16, 59, tzinfo=UTC))
    assert not hours.contains(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    assert not hours.contains(datetime(2026, 12, 5, 10, 0, tzinfo=UTC))
    assert hours.describe() == "mon-fri 09:00-18:00 Europe/Berlin"


def test_day_ranges_may_wrap_around_the_week() -> None:
    text = HOURS + "{timezone: UTC, days: [fri-mon, wed], start: '0:00', end: '24:00'}\n"
    hours = parse_rules(text, DEFAULT).rules[0].route.auto_approve

    assert hours is not None and len(hours.business_hours) == 1
    assert hours.business_hours[0].days == frozenset({0, 2, 4, 5, 6})
    assert hours.business_hours[0].contains(datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC))


def test_describe_route_tells_a_requester_what_applies() -> None:
    router = parse_rules(FULL, DEFAULT)
    rule = router.rules[0]

    text = describe_route(rule.route, rule.match)

    assert "rule `crown-jewels` (matches resource group rg-data*)" in text
    assert "Who may ask: S0DBAS, U0ENGINE01." in text
    assert "Needs 2 distinct approvals from S0SECURITY in C0SECURITY." in text
    assert "Longest window: 2h." in text
    assert r"ticket matching INC-\d+" in text
    assert "Escalates to S0LEADS in C0ESCALATE after 15m" in text
    auto = describe_route(router.rules[1].route)
    assert "Granted automatically when the requester is in S0ONCALL and the window is at most 1h" in auto
    assert "never for U0CONTRACT" in auto
    assert "(the default)" in describe_route(DEFAULT)


def test_explain_route_names_the_vm_and_its_rule() -> None:
    router = parse_rules(FULL, DEFAULT)

    text = explain_route(router, vm("db-01", group="rg-data", region="northeurope"))

    assert text.startswith("`db-01` follows rule `crown-jewels` (matches resource group rg-data*")
    assert explain_route(router, vm("x", subscription="00000000-0000-0000-0000-000000000000")).startswith(
        "`x` follows rule `default` (the default)."
    )
    assert explain_route(SingleRouteRouter(DEFAULT), vm()).startswith("`web-01` follows rule `default` (the default).")


def _documented_rules() -> RulesRouter:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, "docs/lifecycle.md shows a rules file"
    return parse_rules(blocks[0], DEFAULT)


def test_the_documented_example_is_valid() -> None:
    router = _documented_rules()

    assert len(router.rules) >= 3
    assert any(rule.route.auto_approve for rule in router.rules)
    assert any(rule.route.quorum > 1 for rule in router.rules)
    assert any(rule.route.escalation for rule in router.rules)


def test_the_documented_example_behaves_as_the_text_says() -> None:
    router = _documented_rules()
    web = vm("web-01", group="rg-web", region="westeurope")
    database = vm("db-01", group="rg-data-eu", region="northeurope")

    assert router.route(web).name == "prod-web" and router.route(web).auto_approve is not None
    pci = router.route(vm("web-01", group="rg-web", region="westeurope", tags={"compliance": "pci"}))
    assert pci.name == "prod-web+pci" and pci.auto_approve is None
    assert pci.quorum == 2 and pci.ticket_pattern and pci.max_duration == timedelta(hours=1)
    assert router.route(vm("db-01", group="rg-data-eu", region="northeurope", tags={"env": "lab"})) == (
        router.route(database)
    )
    warnings = [c.detail for c in lint_rules(router) if c.verdict is Verdict.WARN]
    assert warnings == [
        "it adds a maximum of 1h, quorum 2, a ticket, approval by a person, a required reason only while a VM "
        "carries tag compliance=pci; whoever may edit the VM's tags can remove that"
    ]


def _settings(**changes: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "AZURE_SUBSCRIPTION_IDS": PROD,
        "JITBOT_APPROVAL_CHANNEL": "C0APPROVAL",
        "JITBOT_APPROVERS": "S0APPROVRS",
        "JITBOT_DEFAULT_SOURCE": "203.0.113.10/32",
        "JITBOT_BREAK_GLASS_GROUP": "S0GLASS",
        **changes,
    }
    return Settings.from_env(env)


def test_router_for_the_environment_alone_and_with_a_file(tmp_path: Path) -> None:
    alone = router_for(_settings())
    assert alone.route(vm()) == Route(
        name="default",
        approvers=("S0APPROVRS",),
        approval_channel="C0APPROVAL",
        break_glass=("S0GLASS",),
        requester_rbac=RbacMode.WARN,
    )
    path = tmp_path / "rules.yaml"
    path.write_text(FULL, encoding="utf-8")

    with_file = router_for(_settings(JITBOT_RULES_FILE=str(path), JITBOT_MAX_DURATION="3h"))

    assert with_file.route(vm("db-01", group="rg-data", region="northeurope")).name == "crown-jewels"
    assert with_file.route(vm("x", subscription="00000000-0000-0000-0000-000000000000")).max_duration == timedelta(
        hours=3
    )


def test_doctor_lines_for_the_rules_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(FULL, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    quorum: 0\n  - name: a\n", encoding="utf-8")

    assert [c.verdict for c in rules_checks(_settings())] == [Verdict.PASS]
    assert rules_checks(_settings(JITBOT_RULES_FILE=str(good)))[0].detail == f"3 rules read from {good}"
    failed = rules_checks(_settings(JITBOT_RULES_FILE=str(bad)))
    assert [c.verdict for c in failed] == [Verdict.FAIL, Verdict.FAIL]
    assert failed[0].detail.startswith(f"{bad}:3:") and failed[1].detail.startswith(f"{bad}:4:")


RBAC_RULES = """
default:
  requester_rbac: warn
rules:
  - name: data
    match: {resource_group: rg-data}
    requester_rbac: enforce
  - name: lab
    match: {resource_group: rg-lab}
    requester_rbac: off
  - name: data-too
    match: {resource_group: "rg-d*"}
    requester_rbac: warn
  - name: tagged-off
    match: {tags: {env: dev}}
    requester_rbac: off
  - name: tagged-enforce
    match: {tags: {env: prod}}
    requester_rbac: enforce
"""


def test_requester_rbac_per_scope_combines_at_its_strictest() -> None:
    router = parse_rules(RBAC_RULES, DEFAULT)

    assert router.route(vm(group="rg-web")).requester_rbac is RbacMode.WARN
    assert router.route(vm(group="rg-data")).requester_rbac is RbacMode.ENFORCE, "enforce beats warn"
    assert router.route(vm(group="rg-lab")).requester_rbac is RbacMode.OFF, "a scope rule may turn it off"
    assert router.route(vm(group="rg-web", tags={"env": "dev"})).requester_rbac is RbacMode.WARN, "tags cannot loosen"
    assert router.route(vm(group="rg-lab", tags={"env": "prod"})).requester_rbac is RbacMode.ENFORCE


def test_a_scope_rule_without_requester_rbac_keeps_the_default_and_help_shows_it() -> None:
    router = parse_rules("rules:\n  - name: web\n    match: {resource_group: rg-web}\n", DEFAULT)
    assert router.route(vm()).requester_rbac is None

    enforcing = parse_rules(RBAC_RULES, DEFAULT)
    assert "refused unless the requester's own Azure role" in explain_route(enforcing, vm(group="rg-data"))
    assert "not checked" in explain_route(enforcing, vm(group="rg-lab"))


def test_a_bad_requester_rbac_is_named_with_its_line() -> None:
    found = problems("rules:\n  - name: web\n    requester_rbac: strict\n")

    assert found == ["rules.yaml:3: `requester_rbac` must be off, warn or enforce, not 'strict'"]


def test_lint_warns_about_a_tag_rule_that_tries_to_turn_the_check_off() -> None:
    checks = lint_rules(parse_rules(RBAC_RULES, DEFAULT))
    texts = [c.detail for c in checks if c.verdict is Verdict.WARN]

    assert any("laxer" in t and "requester_rbac off instead of warn" in t for t in texts)
    assert any("requester_rbac enforce only while" in t for t in texts)


@pytest.mark.parametrize(
    ("ports", "phrase"), [((22,), "only port 22 is asked for"), ((22, 3389), "only ports 22, 3389 are asked for")]
)
def test_auto_approval_ports_read_as_english(ports: tuple[int, ...], phrase: str) -> None:
    route = Route(name="lab", approvers=("S0LEADS",), approval_channel="C0LAB", auto_approve=AutoApproval(ports=ports))

    assert phrase in describe_route(route)
