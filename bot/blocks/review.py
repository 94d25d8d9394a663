"""The access review's summary message: the numbers, the most open VMs and people, and what needs a look.

People are shown by the names the caller passes (``names``: Slack user id to display name) or by their id, never
as ``<@…>`` mentions: a weekly post that lists people must not notify each of them. Everything that came from
outside jitbot (Azure's requestor of a portal opening, VM names, sources) is shown as escaped code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block, SectionBlock

from bot.blocks.common import (
    FIELD_TEXT_LIMIT,
    Message,
    code,
    context,
    divider,
    escape_mrkdwn,
    fields,
    header,
    iso_text,
    message,
    mrkdwn,
    ports_label,
    section,
    slack_date,
    truncate,
    user_text,
)
from jit.model import RequestState
from jit.review import AccessReview, Refusal

TOP = 5
LISTED = 5
_NO_NAMES: Mapping[str, str] = {}


def hours_text(value: float) -> str:
    """``10.25 h``, ``5.5 h``, ``1 h``: hours with at most two decimals."""
    return f"{value:.2f}".rstrip("0").rstrip(".") + " h"


def person(user_id: str, names: Mapping[str, str]) -> str:
    """A person by display name when known, else by Slack user id; never a mention."""
    name = names.get(user_id)
    return f"*{user_text(name, 80)}*" if name else code(user_id, 40)


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def _title(review: AccessReview) -> str:
    first, last = review.period.days[0], review.period.days[-1]
    if first == last:
        return f"JIT access review: {first:%d %b %Y}"
    return f"JIT access review: {first:%d %b} to {last:%d %b %Y}"


def _unreviewed_note(review: AccessReview) -> str:
    unreviewed = len(review.unreviewed_break_glass)
    return f" ({unreviewed} not reviewed)" if unreviewed else ""


def _numbers(review: AccessReview) -> list[tuple[str, str]]:
    who = f"{_plural(len(review.people), 'person', 'people')}, {_plural(len(review.vms), 'VM')}"
    return [
        ("Grants", f"{len(review.grants)} ({who})"),
        ("Open hours", hours_text(review.open_hours)),
        ("Break-glass uses", f"{len(review.break_glass)}{_unreviewed_note(review)}"),
        ("Denied", str(len(review.denied))),
        ("Timed out", str(len(review.timed_out))),
        ("Opened outside jitbot", str(len(review.outside))),
        ("VMs that allow any source", str(len(review.any_source))),
    ]


def _listing(title: str, lines: Sequence[str], total: int) -> str:
    more = f"\n_and {total - len(lines)} more_" if total > len(lines) else ""
    return truncate(f"*{title}*\n" + "\n".join(lines) + more, FIELD_TEXT_LIMIT)


def _top_lists(review: AccessReview, names: Mapping[str, str], top: int) -> SectionBlock:
    """The most open VMs and the people with the most access, side by side."""
    vm_lines = [
        f"{rank}. {code(total.label, 80)}: {hours_text(total.hours)}, {_plural(total.grants, 'grant')}"
        for rank, total in enumerate(review.vms[:top], start=1)
    ]
    people_lines = [
        f"{rank}. {person(total.person, names)}: {hours_text(total.hours)}, {_plural(total.grants, 'grant')}"
        for rank, total in enumerate(review.people[:top], start=1)
    ]
    return SectionBlock(
        fields=[
            mrkdwn(_listing("Most open VMs", vm_lines, len(review.vms)), FIELD_TEXT_LIMIT),
            mrkdwn(_listing("Most access by person", people_lines, len(review.people)), FIELD_TEXT_LIMIT),
        ]
    )


def _refusal_line(review: AccessReview, refusal: Refusal, names: Mapping[str, str]) -> str:
    if refusal.state is RequestState.TIMED_OUT:
        outcome = "timed out"
    elif refusal.decided_by:
        outcome = f"denied by {person(refusal.decided_by, names)}"
    else:
        outcome = "denied"
    return (
        f"• {person(refusal.requester, names)}: {escape_mrkdwn(ports_label(refusal.ports))} on "
        f"{code(review.label(refusal.vm), 80)}, {outcome} · {slack_date(refusal.at)}"
    )


def _attention(review: AccessReview, names: Mapping[str, str]) -> list[str]:
    """Sections for what someone should look at: unreviewed break-glass, outside openings, wide policies."""
    parts: list[str] = []
    unreviewed = review.unreviewed_break_glass
    if unreviewed:
        lines = [
            f"• {person(use.requester, names)} on {code(review.label(use.vm), 80)}, {slack_date(use.at)} · "
            f"{code(use.request_id)}"
            for use in unreviewed[:LISTED]
        ]
        parts.append(_listing(":rotating_light: Break-glass not reviewed yet", lines, len(unreviewed)))
    if review.outside:
        lines = [
            f"• {escape_mrkdwn(ports_label([opening.port]))} on {code(opening.vm_label, 80)} from "
            f"{code(opening.source, 60)} by {code(opening.requestor, 80)}, {slack_date(opening.start)} to "
            f"{slack_date(opening.end)}"
            for opening in review.outside[:LISTED]
        ]
        parts.append(_listing(":warning: Ports opened outside jitbot", lines, len(review.outside)))
    if review.any_source:
        lines = [
            f"• {code(policy.label, 80)}: {escape_mrkdwn(ports_label(policy.ports))}"
            for policy in review.any_source[:LISTED]
        ]
        parts.append(
            _listing(":globe_with_meridians: JIT policies that allow any source", lines, len(review.any_source))
        )
    refusals = sorted((*review.denied, *review.timed_out), key=lambda refusal: refusal.at)
    if refusals:
        lines = [_refusal_line(review, refusal, names) for refusal in refusals[:LISTED]]
        parts.append(_listing("Denied and timed-out requests", lines, len(refusals)))
    return parts


def review_summary(
    review: AccessReview, *, names: Mapping[str, str] = _NO_NAMES, top: int = TOP, files_in_thread: bool = False
) -> Message:
    """The review as one message: the numbers, the ``top`` VMs and people, then what needs a look.

    ``files_in_thread`` adds a note that the chart and the CSV of raw rows follow in the thread.
    """
    blocks: list[Block] = [
        header(_title(review)),
        context(
            f"{escape_mrkdwn(iso_text(review.period.start))} to {escape_mrkdwn(iso_text(review.period.end))}"
            + (" · chart and raw rows (CSV) in the thread" if files_in_thread else "")
        ),
        fields(_numbers(review)),
    ]
    if review.grants:
        blocks.append(_top_lists(review, names, top))
    else:
        blocks.append(section("No JIT access was open in this period."))
    attention = _attention(review, names)
    if attention:
        blocks.append(divider())
        blocks.extend(section(part) for part in attention)
    if review.unreadable_records:
        blocks.append(
            context(
                f":grey_question: {_plural(review.unreadable_records, 'audit record')} about ports opened outside "
                "jitbot could not be read; `jitbot audit export` shows them as stored."
            )
        )
    text = (
        f"{_title(review)}: {_plural(len(review.grants), 'grant')}, {hours_text(review.open_hours)} open, "
        f"{_plural(len(review.break_glass), 'break-glass use')}{_unreviewed_note(review)}, {len(review.denied)} "
        f"denied, {len(review.timed_out)} timed out, {len(review.outside)} opened outside jitbot."
    )
    return message(escape_mrkdwn(text), blocks)


def upload_failed_notice(error: str) -> Message:
    """The thread reply when the chart and the CSV could not be uploaded (``error``: Slack's error code, or
    ``upload_failed`` when the upload server refused the bytes); the summary above stays complete."""
    if error == "missing_scope":
        text = (
            ":warning: The chart and the CSV could not be attached: the Slack app lacks the `files:write` scope. "
            "Add it (deploy/slack-app-manifest.yaml lists it), reinstall the app, and `jitbot doctor` will confirm."
        )
    elif error in ("not_in_channel", "channel_not_found"):
        text = ":warning: The chart and the CSV could not be attached: invite jitbot to this channel and ask again."
    else:
        text = (
            f":warning: Slack did not take the chart and the CSV ({code(error, 60)}). The numbers above are complete; "
            "ask for the report again later to get the files."
        )
    return message(text, [section(text)])


def report_sent_notice(review: AccessReview) -> Message:
    """The ephemeral answer to ``/jit report``: where the review went and what it covers."""
    text = (
        f":bar_chart: {_title(review)} is in your direct messages with jitbot: the summary, with the chart and "
        f"the CSV of {_plural(len(review.grants), 'grant')} in its thread."
    )
    return message(escape_mrkdwn(text), [section(escape_mrkdwn(text))])
