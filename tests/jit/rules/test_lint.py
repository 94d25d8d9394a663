"""`jitbot doctor`'s warnings about rules: tag rules that would loosen a baseline or alone protect a VM, and rules
that leave nobody (or only people on both lists) able to ask or approve where they overlap."""

from __future__ import annotations

from jit.checks import Verdict
from jit.routing import Route
from jit.rules import Match, parse_rules
from jit.rules.lint import covers, lint_rules, may_overlap

DEFAULT = Route(name="default", approvers=("S0APPROVRS",), approval_channel="C0APPROVAL")
SUB_A = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e01"
SUB_B = "3f2b8c1e-5d4a-4e7b-9c6f-1a2b3c4d5e02"


def warnings(text: str) -> list[tuple[str, str]]:
    checks = lint_rules(parse_rules(text, DEFAULT))
    return [(c.name, c.detail) for c in checks if c.verdict is Verdict.WARN]


def test_rules_that_scope_by_resource_group_alone_pass() -> None:
    text = """
rules:
  - name: data
    match: {resource_group: rg-data*}
    quorum: 2
  - name: web
    match: {resource_group: rg-web*}
    auto_approve: {max_duration: 1h}
"""
    checks = lint_rules(parse_rules(text, DEFAULT))

    assert [(c.verdict, c.name) for c in checks] == [(Verdict.PASS, "rules combine safely")]


def test_a_lax_tag_rule_is_named_with_every_baseline_it_could_have_loosened() -> None:
    text = """
rules:
  - name: lab-tag
    match: {tags: {env: lab}}
    requesters: []
    quorum: 1
    max_duration: 8h
    approval_channel: C0LAB
    auto_approve: {max_duration: 4h}
  - name: prod-data
    match: {resource_group: rg-data}
    requesters: [S0DBAS]
    quorum: 2
    max_duration: 1h
"""
    found = warnings(text)

    assert [name for name, _ in found] == ["tag rule `lab-tag` (line 3)"] * 3
    assert "a ticket" not in str(found), "a key the tag rule leaves out is no attempt to loosen"
    scope, default, removable = (detail for _, detail in found)
    assert removable.startswith("it adds a maximum of 8h only while a VM carries tag env=lab")
    assert scope.startswith(
        "it is matched by tag env=lab and is laxer than rule `prod-data`: everyone may ask, quorum 1 instead of 2, "
        "a longer window, automatic approval, its own `approval_channel`."
    )
    assert default.startswith(
        "it is matched by tag env=lab and is laxer than the default route: automatic approval, its own "
        "`approval_channel`."
    )


def test_a_strict_tag_rule_is_warned_to_be_removable_by_whoever_edits_tags() -> None:
    text = """
rules:
  - name: crown-jewel
    match: {tags: {tier: [crown-jewel, pci]}}
    quorum: 3
    ticket_pattern: 'INC-\\d+'
"""
    [(name, detail)] = warnings(text)

    assert name == "tag rule `crown-jewel` (line 3)"
    assert detail == (
        "it adds quorum 3, a required reason, a ticket only while a VM carries tag tier=crown-jewel|pci; whoever "
        "may edit the VM's tags can remove that"
    )


def test_a_tag_rule_inside_a_scope_rule_is_compared_with_it_and_not_with_the_default() -> None:
    text = """
rules:
  - name: data
    match: {resource_group: rg-data*}
    auto_approve: {max_duration: 1h}
  - name: data-lab
    match: {resource_group: rg-data-lab, tags: {env: lab}}
    auto_approve: {max_duration: 1h}
"""
    assert warnings(text) == []


def test_overlapping_rules_that_share_no_approver_or_requester_are_flagged() -> None:
    text = f"""
rules:
  - name: a
    match: {{subscription: {SUB_A}}}
    requesters: [U0ALICE]
    approvers: [U0BOB]
  - name: b
    match: {{resource_group: rg-x}}
    requesters: [U0CAROL]
    approvers: [U0DAVE]
  - name: c
    match: {{subscription: {SUB_B}}}
    approvers: [S0OTHERS]
"""
    found = warnings(text)

    assert ("rules `a` and `b`", "both can apply to one VM and name different people only; there nobody could ask") in (
        found
    )
    assert (
        "rules `a` and `b`",
        "both can apply to one VM and name different people only; there nobody could approve",
    ) in found
    assert (
        "rules `b` and `c`",
        "both can apply to one VM; there only people in both approver lists may approve",
    ) in found
    assert not [name for name, _ in found if name == "rules `a` and `c`"]


def test_overlap_is_ruled_out_only_by_a_criterion_that_cannot_hold_for_both() -> None:
    assert not may_overlap(Match(resource_groups=("rg-data*",)), Match(resource_groups=("rg-web*",)))
    assert not may_overlap(Match(resource_groups=("rg-data",)), Match(resource_groups=("rg-data-2",)))
    assert not may_overlap(Match(tags={"env": ("prod",)}), Match(tags={"env": ("lab", "dev*")}))
    assert may_overlap(Match(resource_groups=("rg-*",)), Match(resource_groups=("rg-data",)))
    assert may_overlap(Match(resource_groups=("rg-da*",)), Match(resource_groups=("rg-data*",)))
    assert may_overlap(Match(regions=("westeurope",)), Match(tags={"env": ("prod",)}))


def test_a_scope_rule_covers_a_narrower_scope_whatever_the_tags() -> None:
    assert covers(Match(), Match(tags={"env": ("lab",)}))
    assert covers(Match(resource_groups=("rg-data*",)), Match(resource_groups=("rg-data-1",), tags={"x": ("y",)}))
    assert not covers(Match(resource_groups=("rg-data*",)), Match(tags={"env": ("lab",)}))
    assert not covers(Match(resource_groups=("rg-data",)), Match(resource_groups=("rg-*",)))
