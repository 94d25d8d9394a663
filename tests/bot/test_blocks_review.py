"""The access review's summary message: valid Block Kit with the numbers, top VMs and people, what needs a look."""

from __future__ import annotations

from dataclasses import replace

from bot.blocks.review import LISTED, hours_text, review_summary, upload_failed_notice
from jit.request_extras import TRUE, Extra
from jit.review import build_review
from tests.bot.blocks_support import HOSTILE, all_text, assert_literal, check_message, texts
from tests.jit.review_support import (
    ALICE,
    CAROL,
    DAVE,
    WEB,
    WEEK,
    at,
    grant,
    outside_record,
    vm,
    week_audit,
    week_inventory,
    week_requests,
    week_review,
)


def test_the_summary_is_valid_block_kit_with_the_numbers() -> None:
    summary = review_summary(week_review())
    check_message(summary)
    assert summary.text.startswith("JIT access review: 03 Mar to 09 Mar 2025: 7 grants, 10.25 h open")
    assert "2 break-glass uses (1 not reviewed), 1 denied, 1 timed out, 1 opened outside jitbot" in summary.text
    shown = all_text(summary)
    for field in (
        "*Grants*\n7 (4 people, 3 VMs)",
        "*Open hours*\n10.25 h",
        "*Break-glass uses*\n2 (1 not reviewed)",
        "*Denied*\n1",
        "*Timed out*\n1",
        "*Opened outside jitbot*\n1",
        "*VMs that allow any source*\n2",
    ):
        assert field in shown


def test_the_most_open_vms_and_people_are_ranked() -> None:
    shown = all_text(review_summary(week_review()))
    assert "1. `web-01`: 5.5 h, 3 grants\n2. `db-01`: 3.75 h, 3 grants\n3. `app-01`: 1 h, 1 grant" in shown
    assert f"1. `{ALICE}`: 4.5 h, 3 grants" in shown
    assert f"4. `{CAROL}`: 0.75 h, 1 grant" in shown


def test_people_are_named_but_never_mentioned() -> None:
    summary = review_summary(week_review(), names={ALICE: "Alice Engineer", DAVE: "<!channel> Dave"})
    shown = all_text(summary)
    assert "1. *Alice Engineer*: 4.5 h" in shown
    assert "&lt;!channel&gt; Dave" in shown
    assert "<@" not in shown
    assert "<!channel>" not in shown


def test_what_needs_a_look_is_listed() -> None:
    shown = all_text(review_summary(week_review()))
    [glass] = [t for t in texts(review_summary(week_review()).blocks) if "Break-glass not reviewed" in t]
    assert f"`{DAVE}` on `app-01`" in glass
    assert "`g-glass2`" in glass
    assert "g-glass1" not in glass, "a reviewed use needs no look"
    assert "22 (SSH) on `web-01` from `192.0.2.0/24` by `pat@contoso.com`" in shown
    assert "• `db-01`: 22 (SSH)\n• `web-01`: 3389 (RDP)" in shown
    assert f"on `db-01`, denied by `{CAROL}`" in shown
    assert "on `app-01`, timed out" in shown
    assert "1 audit record about ports opened outside jitbot could not be read" in shown


def test_a_quiet_period_says_so_and_lists_nothing_to_look_at() -> None:
    summary = review_summary(build_review(WEEK, [], [], []))
    check_message(summary)
    shown = all_text(summary)
    assert "No JIT access was open in this period." in shown
    assert "not reviewed" not in shown
    assert "*Opened outside jitbot*\n0" in shown
    assert "Most open VMs" not in shown


def test_the_thread_note_is_there_only_when_files_follow() -> None:
    assert "raw rows (CSV) in the thread" in all_text(review_summary(week_review(), files_in_thread=True))
    assert "in the thread" not in all_text(review_summary(week_review()))


def test_text_from_outside_jitbot_is_shown_literally() -> None:
    hostile_opening = replace(
        outside_record("9-0", WEB, "22", at(5, 1).isoformat(), at(5, 2).isoformat()), actor=HOSTILE
    )
    hostile_vm = grant("g-hostile", ALICE, vm(HOSTILE), at(4, 1), at(4, 2), extra={Extra.BREAK_GLASS.value: TRUE})
    review = build_review(WEEK, [*week_requests(), hostile_vm], [*week_audit(), hostile_opening], week_inventory())
    summary = review_summary(review)
    check_message(summary)
    assert_literal(all_text(summary))


def test_a_busy_period_stays_within_slacks_limits_and_says_how_many_more() -> None:
    many = [
        grant(
            f"g-{n}", f"U0PERSON{n:02d}", vm(f"vm-{n:02d}"), at(3, 0), at(3, 1), extra={Extra.BREAK_GLASS.value: TRUE}
        )
        for n in range(40)
    ]
    openings = [
        outside_record(f"{n}-0", vm(f"vm-{n:02d}"), "22", at(4, 1).isoformat(), at(4, 2).isoformat()) for n in range(40)
    ]
    review = build_review(WEEK, many, openings, [])
    summary = review_summary(review, top=5)
    check_message(summary)
    shown = all_text(summary)
    assert shown.count("_and 35 more_") == 4, "VMs, people, break-glass and outside openings"
    assert LISTED == 5


def test_hours_are_shown_with_at_most_two_decimals() -> None:
    assert [hours_text(h) for h in (10.25, 5.5, 1.0, 0.0, 1 / 3)] == ["10.25 h", "5.5 h", "1 h", "0 h", "0.33 h"]


def test_the_notice_for_missing_files_says_what_to_do() -> None:
    for error, advice in (
        ("missing_scope", "`files:write`"),
        ("not_in_channel", "invite jitbot"),
        ("upload_failed", "ask for the report again later"),
        ("<!channel>", "&lt;!channel&gt;"),
    ):
        notice = upload_failed_notice(error)
        check_message(notice)
        assert advice in all_text(notice)
        assert "<!channel>" not in all_text(notice)
