"""The access review's CSV: one row per grant that parses back to the review's values; names of the files."""

from __future__ import annotations

import csv
import io

from bot.review_files import CSV_COLUMNS, file_stem, grants_csv
from jit.review import ReviewPeriod, build_review
from tests.jit.review_support import ALICE, BOB, DB, ERIN, NOW, WEB, WEEK, at, grant, vm, week_review


def parsed(data: bytes) -> list[dict[str, str]]:
    """The CSV read back the way a spreadsheet import would: strict, one dict per row."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), strict=True))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


def test_the_csv_has_one_row_per_grant_that_parses_back_to_it() -> None:
    review = week_review()
    data = grants_csv(review)
    assert data.endswith(b"\r\n")
    rows = parsed(data)
    assert [row["request id"] for row in rows] == [g.request_id for g in review.grants]
    by_id = {row["request id"]: row for row in rows}
    assert by_id["g-alice1"] == {
        "request id": "g-alice1",
        "requester": ALICE,
        "VM": "web-01",
        "ports": "22 8080",
        "source": "198.51.100.0/24",
        "approved by": BOB,
        "start (UTC)": "2025-03-03T10:00:00Z",
        "end (UTC)": "2025-03-03T12:00:00Z",
        "hours": "2.00",
        "state": "expired",
        "break-glass": "no",
        "reviewed by": "",
        "VM resource id": WEB.id,
    }
    glass = by_id["g-glass1"]
    assert (glass["requester"], glass["VM"], glass["ports"], glass["approved by"]) == (
        ERIN,
        "db-01",
        "3389",
        "break-glass",
    )
    assert (glass["break-glass"], glass["reviewed by"], glass["VM resource id"]) == ("yes", BOB, DB.id)
    assert (by_id["g-revoke"]["end (UTC)"], by_id["g-revoke"]["hours"]) == ("2025-03-06T09:30:00Z", "1.50")
    assert (by_id["g-super"]["state"], by_id["g-super"]["hours"]) == ("superseded", "0.75")
    assert by_id["g-late"]["end (UTC)"] == "2025-03-10T03:00:00Z"
    assert sum(float(row["hours"]) for row in rows) == review.open_hours


def test_a_grant_without_an_end_has_an_empty_end_cell() -> None:
    review = build_review(WEEK, [grant("g-open", ALICE, WEB, at(9, 20), at(9, 21), ends_at=None)], [], [])
    assert parsed(grants_csv(review))[0]["end (UTC)"] == ""


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_kept_as_text() -> None:
    hostile = grant(
        '=HYPERLINK("https://evil.example")', "@U0EVIL", vm("web-01"), at(3, 1), at(3, 2), source="-1+1", approver="+x"
    )
    [row] = parsed(grants_csv(build_review(WEEK, [hostile], [], [])))
    assert row["request id"] == '\'=HYPERLINK("https://evil.example")'
    assert (row["requester"], row["source"], row["approved by"]) == ("'@U0EVIL", "'-1+1", "'+x")


def test_an_empty_review_is_just_the_header() -> None:
    assert parsed(grants_csv(build_review(WEEK, [], [], []))) == []


def test_file_names_name_the_first_and_last_day() -> None:
    assert file_stem(WEEK) == "jit-access-review-2025-03-03-to-2025-03-09"
    assert file_stem(ReviewPeriod.last_days(1, NOW)) == "jit-access-review-2025-03-10"
