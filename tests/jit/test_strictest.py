"""Rules that apply to one VM combine at their strictest; tags only add requirements to the VM's baseline."""

from __future__ import annotations

import re
from datetime import time, timedelta

from jit.model import VirtualMachine, VmRef
from jit.routing import AutoApproval, BusinessHours, Escalation, Route
from jit.rules import explain_route, parse_rules
from jit.strictest import all_patterns, combine

PROD = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e01"
DEFAULT = Route(name="default", approvers=("S0APPROVRS",), approval_channel="C0APPROVAL", break_glass=("S0GLASS",))
NINE_TO_FIVE = BusinessHours("UTC", time(9), time(17))
STRICT = Route(
    name="prod",
    approvers=("S0SECURITY",),
    approval_channel="C0SECURITY",
    requesters=("S0DBAS",),
    max_duration=timedelta(hours=1),
    ticket_pattern=r"INC-\d+",
    quorum=2,
    approver_reminders=(timedelta(minutes=5),),
    escalation=Escalation(timedelta(minutes=15), ("S0LEADS",), "C0ESCALATE"),
    break_glass=("S0GLASS",),
    refuse_wide_sources=True,
)
LAX = Route(
    name="lab",
    approvers=("S0APPROVRS",),
    approval_channel="C0LAB",
    max_duration=timedelta(hours=8),
    approver_reminders=(),
    auto_approve=AutoApproval(max_duration=timedelta(hours=4)),
    break_glass=("S0GLASS", "U0INTERN"),
    review_within=timedelta(hours=4),
)


def vm(name: str, group: str, tags: dict[str, str] | None = None) -> VirtualMachine:
    vm_id = f"/subscriptions/{PROD}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"
    return VirtualMachine(VmRef(vm_id, PROD, group, name, "westeurope"), tags=tags or {})


def test_a_lax_rule_adds_nothing_to_a_strict_one_and_the_strict_one_keeps_its_channel() -> None:
    combined = combine([STRICT], [LAX])

    assert combined.name == "prod+lab"
    assert combined.requesters == ("S0DBAS",)
    assert combined.approvers == ("S0APPROVRS&S0SECURITY",)
    assert combined.quorum == 2 and combined.max_duration == timedelta(hours=1)
    assert combined.reason_required and combined.ticket_pattern == r"INC-\d+"
    assert combined.auto_approve is None
    assert combined.break_glass == ("S0GLASS",) and combined.review_within == STRICT.review_within
    assert combined.refuse_wide_sources
    assert (combined.approval_channel, combined.approver_reminders) == ("C0SECURITY", (timedelta(minutes=5),))
    assert combined.escalation == Escalation(
        timedelta(minutes=15), ("S0APPROVRS&S0SECURITY", "S0APPROVRS&S0LEADS"), "C0ESCALATE"
    )


def test_the_order_of_the_tightening_rules_changes_nothing_but_the_name() -> None:
    one, other = combine([DEFAULT], [STRICT, LAX]), combine([DEFAULT], [LAX, STRICT])

    assert one.name == "default+prod+lab" and other.name == "default+lab+prod"
    assert one.approvers == other.approvers and one.quorum == other.quorum == 2
    assert one.auto_approve is None and other.auto_approve is None


def test_auto_approval_survives_only_inside_every_rule_limit() -> None:
    oncall = Route(
        name="oncall",
        approvers=("S0APPROVRS",),
        approval_channel="C0APPROVAL",
        auto_approve=AutoApproval(
            requesters=("S0ONCALL",), deny=("U0CONTRACT",), max_duration=timedelta(hours=2), ports=(22, 3389)
        ),
    )
    office = Route(
        name="office",
        approvers=("S0APPROVRS",),
        approval_channel="C0APPROVAL",
        auto_approve=AutoApproval(deny=("S0TEMPS",), max_duration=timedelta(hours=1), ports=(22, 8080)),
    )
    hours = Route(
        name="hours",
        approvers=("S0APPROVRS",),
        approval_channel="C0APPROVAL",
        auto_approve=AutoApproval(business_hours=(NINE_TO_FIVE,)),
    )
    web_only = Route(
        name="web", approvers=("S0APPROVRS",), approval_channel="C0APPROVAL", auto_approve=AutoApproval(ports=(443,))
    )

    assert combine([oncall], [office, hours]).auto_approve == AutoApproval(
        requesters=("S0ONCALL",),
        deny=("U0CONTRACT", "S0TEMPS"),
        max_duration=timedelta(hours=1),
        ports=(22,),
        business_hours=(NINE_TO_FIVE,),
    )
    assert combine([oncall], [web_only]).auto_approve is None


def test_every_ticket_pattern_must_be_mentioned() -> None:
    pattern = all_patterns([r"INC-\d+", r"(?i)chg-\d+"])

    assert pattern is not None
    assert re.search(pattern, "CHG-7 for INC-42")
    assert re.search(pattern, "inc-1 chg-2") is None
    assert re.search(pattern, "INC-42 only") is None
    assert all_patterns([]) is None and all_patterns(["A-1"]) == "A-1"


RULES = """
rules:
  - name: lab-tag
    match: {tags: {env: lab}}
    requesters: []
    max_duration: 8h
    auto_approve: {max_duration: 4h}
  - name: prod-data
    match: {resource_group: rg-data}
    approvers: [S0SECURITY]
    approval_channel: C0SECURITY
    quorum: 2
    ticket_pattern: 'INC-\\d+'
    max_duration: 1h
  - name: crown-jewel
    match: {tags: {tier: crown-jewel}}
    quorum: 3
"""


def test_a_lax_tag_never_loosens_a_scope_rule_even_when_it_comes_first() -> None:
    router = parse_rules(RULES, DEFAULT)

    tagged = router.route(vm("db-01", "rg-data", {"env": "lab"}))

    assert tagged.name == "prod-data+lab-tag"
    assert tagged.auto_approve is None and tagged.quorum == 2 and tagged.max_duration == timedelta(hours=1)
    assert tagged.approval_channel == "C0SECURITY" and tagged.ticket_pattern == r"INC-\d+"


def test_a_lax_tag_never_loosens_the_default_route_either() -> None:
    router = parse_rules(RULES, DEFAULT)

    tagged = router.route(vm("web-01", "rg-web", {"env": "lab"}))

    assert tagged.name == "default+lab-tag" and tagged.auto_approve is None
    assert tagged.approval_channel == DEFAULT.approval_channel


def test_a_strict_tag_adds_its_requirements() -> None:
    router = parse_rules(RULES, DEFAULT)

    assert router.route(vm("db-01", "rg-data", {"tier": "crown-jewel"})).quorum == 3
    assert router.route(vm("web-01", "rg-web", {"tier": "crown-jewel"})).quorum == 3


def test_help_names_every_rule_that_combined() -> None:
    router = parse_rules(RULES, DEFAULT)

    text = explain_route(router, vm("db-01", "rg-data", {"env": "lab", "tier": "crown-jewel"}))

    assert text.startswith(
        "`db-01` follows 3 rules combined: rule `prod-data` (matches resource group rg-data); "
        "rule `lab-tag` (matches tag env=lab), through its tags; "
        "rule `crown-jewel` (matches tag tier=crown-jewel), through its tags."
    )
    assert "Needs 3 distinct approvals from S0SECURITY in C0SECURITY." in text
    assert "Granted automatically" not in text
    default_only = explain_route(router, vm("web-01", "rg-web", {"env": "lab"}))
    assert default_only.startswith("`web-01` follows 2 rules combined: the default route; rule `lab-tag`")
