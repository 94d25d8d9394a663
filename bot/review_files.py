"""The access review's raw rows as a CSV attachment, and the names of the review's files.

One row per grant (``jit.review.Grant``), in the order the review lists them, encoded as UTF-8 with ``\\r\\n``
line ends (RFC 4180, what spreadsheets expect). Times are ISO 8601 in UTC, hours have two decimals, ports are
separated by spaces. A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'`` so a spreadsheet shows it as text instead of running it as a formula (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from jit.review import AccessReview, Grant, ReviewPeriod

CSV_COLUMNS = (
    "request id",
    "requester",
    "VM",
    "ports",
    "source",
    "approved by",
    "start (UTC)",
    "end (UTC)",
    "hours",
    "state",
    "break-glass",
    "reviewed by",
    "VM resource id",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(value: str) -> str:
    """``value`` as a cell a spreadsheet cannot take for a formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def iso_utc(when: datetime | None) -> str:
    """``2025-03-03T10:00:00Z``, or empty for no time."""
    if when is None:
        return ""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def grant_row(review: AccessReview, grant: Grant) -> list[str]:
    """One grant as the CSV's cells, in ``CSV_COLUMNS`` order."""
    return [
        as_text_cell(grant.request_id),
        as_text_cell(grant.requester),
        as_text_cell(review.label(grant.vm)),
        " ".join(str(port) for port in grant.ports),
        as_text_cell(grant.source),
        as_text_cell(grant.approved_by),
        iso_utc(grant.opened),
        iso_utc(grant.closed),
        f"{grant.hours:.2f}",
        grant.state.value,
        "yes" if grant.break_glass else "no",
        as_text_cell(grant.reviewed_by or ""),
        as_text_cell(grant.vm.id),
    ]


def grants_csv(review: AccessReview) -> bytes:
    """The review's grants as CSV bytes: a header row, then one row per grant."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(grant_row(review, grant) for grant in review.grants)
    return text.getvalue().encode("utf-8")


def file_stem(period: ReviewPeriod) -> str:
    """``jit-access-review-2025-03-03-to-2025-03-09``: the review files' name without extension."""
    first, last = period.days[0], period.days[-1]
    span = first.isoformat() if first == last else f"{first.isoformat()}-to-{last.isoformat()}"
    return f"jit-access-review-{span}"
