"""Principals: intersections of "any of" lists as the fewest conjunctions, and nobody when no one is in all."""

from __future__ import annotations

from jit.principals import NOBODY, conjuncts, groups_in, intersect, union


def test_a_list_with_itself_is_itself() -> None:
    assert intersect([("S0APPROVRS", "U0ADMIN001"), ("S0APPROVRS", "U0ADMIN001")]) == ("S0APPROVRS", "U0ADMIN001")


def test_lists_of_users_intersect_to_the_shared_users() -> None:
    assert intersect([("U0A", "U0B", "U0C"), ("U0C", "U0B")]) == ("U0B", "U0C")


def test_groups_become_conjunctions_and_a_user_stays_bound_to_the_groups() -> None:
    combined = intersect([("S0SEC", "U0LEAD"), ("S0DBA",)])

    assert combined == ("S0DBA&S0SEC", "U0LEAD&S0DBA")
    assert conjuncts("U0LEAD&S0DBA") == ("U0LEAD", "S0DBA")
    assert groups_in(combined) == ("S0DBA", "S0SEC")


def test_a_weaker_conjunction_absorbs_a_stronger_one() -> None:
    assert intersect([("S0A", "S0A&S0B"), ("S0A",)]) == ("S0A",)


def test_lists_that_share_no_one_give_nobody_never_everyone() -> None:
    assert intersect([("U0A",), ("U0B",)]) == (NOBODY,)
    assert intersect([(NOBODY,), ("S0A",)]) == (NOBODY,)


def test_union_keeps_order_once() -> None:
    assert union([("U0A", "S0B"), ("S0B", "U0C")]) == ("U0A", "S0B", "U0C")
