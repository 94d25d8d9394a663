"""Escaping, mentions, dates, truncation and the Block Kit guards every builder relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.common import (
    button,
    channel_link,
    code,
    escape_mrkdwn,
    fields,
    header,
    mention,
    message,
    one_line,
    ports_command_text,
    ports_label,
    render,
    section,
    slack_date,
    source_label,
    time_left,
    truncate,
    truncate_mrkdwn,
)
from tests.bot.blocks_support import NOW, check_message


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123ABC>", "&lt;@U123ABC&gt;"),
        ("<https://evil.example|docs>", "&lt;https://evil.example|docs&gt;"),
        ("fish & chips", "fish &amp; chips"),
        ("&lt;", "&amp;lt;"),
        ("plain *bold* _it_", "plain *bold* _it_"),
        ("", ""),
    ],
)
def test_escape_mrkdwn_turns_control_characters_into_entities(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
def test_escaped_text_has_no_angle_brackets_and_decodes_back(raw: str) -> None:
    escaped = escape_mrkdwn(raw)
    assert "<" not in escaped
    assert ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == raw


@pytest.mark.parametrize(
    ("user_id", "shown"),
    [
        ("U0123ABCD", "<@U0123ABCD>"),
        ("W0123ABCD", "<@W0123ABCD>"),
        ("u0123abcd", "`u0123abcd`"),
        ("<!channel>", "`&lt;!channel&gt;`"),
        ("U1", "`U1`"),
        ("U123>|<!here", "`U123&gt;|&lt;!here`"),
        (None, "_unknown_"),
        ("", "_unknown_"),
    ],
)
def test_mention_pings_only_well_formed_user_ids(user_id: str | None, shown: str) -> None:
    assert mention(user_id) == shown


def test_channel_link_only_for_channel_ids() -> None:
    assert channel_link("C0APPROVALS") == "<#C0APPROVALS>"
    assert channel_link("<!channel>") == "the approval channel"
    assert channel_link(None) == "the approval channel"


def test_slack_date_uses_slack_formatting_with_a_utc_fallback() -> None:
    when = datetime(2025, 3, 4, 12, 30, tzinfo=UTC)
    assert slack_date(when) == f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|2025-03-04 12:30 UTC>"


def test_slack_date_treats_naive_as_utc_and_converts_other_zones() -> None:
    naive = datetime(2025, 3, 4, 12, 30)
    cet = datetime(2025, 3, 4, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    assert slack_date(naive) == slack_date(cet)
    assert "|2025-03-04 12:30 UTC>" in slack_date(cet)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(hours=1, minutes=20), "1h 20m left"),
        (timedelta(seconds=30), "less than a minute left"),
        (timedelta(0), "ended"),
        (timedelta(minutes=-5), "ended"),
    ],
)
def test_time_left(delta: timedelta, expected: str) -> None:
    assert time_left(NOW + delta, NOW) == expected


def test_truncate_marks_the_cut() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"


@pytest.mark.parametrize("cut_at", range(1, 40))
def test_truncate_mrkdwn_never_leaves_half_an_entity_or_token(cut_at: int) -> None:
    text = "ab &amp; cd <@U0123ABC> ef &lt;x&gt; <!date^1^{time}|t> gh"
    shortened = truncate_mrkdwn(text, cut_at)
    assert len(shortened) <= cut_at
    body = shortened.removesuffix("…")
    assert body.count("<") == body.count(">")
    last_amp = body.rfind("&")
    assert last_amp == -1 or ";" in body[last_amp:]


def test_one_line_and_code_defuse_layout_tricks() -> None:
    assert one_line("a\n\n*Approved by boss*\tnow") == "a *Approved by boss* now"
    assert code("web`01<x>") == "`web'01&lt;x&gt;`"
    assert code("") == "_none_"


def test_port_and_source_labels() -> None:
    assert (
        ports_label([22, 3389, 5985, 5986, 8080]) == "22 (SSH), 3389 (RDP), 5985 (WinRM), 5986 (WinRM over HTTPS), 8080"
    )
    assert ports_command_text((22, 5985, 5986, 8080)) == "ssh,winrm,8080"
    assert "any address" in source_label("*")
    assert source_label("10.0.0.0/8") == "`10.0.0.0/8`"


def test_button_value_over_slack_limit_is_refused_not_cut() -> None:
    with pytest.raises(ValueError, match="2000"):
        button("Go", "jit_approve", "x" * 2001)
    assert button("Go", "jit_approve", "x" * 2000).to_dict()["value"] == "x" * 2000


def test_render_refuses_more_than_fifty_blocks() -> None:
    with pytest.raises(ValueError, match="50"):
        render([section("x")] * 51)
    assert len(render([section("x")] * 50)) == 50


def test_long_texts_are_truncated_within_slack_limits() -> None:
    long = "y" * 10_000
    built = message(long, [header(long), section(long), fields([("Label", long)] * 12)])
    check_message(built)
    assert built.blocks[0]["text"]["text"].endswith("…")
    assert len(built.blocks[2]["fields"]) == 10
    assert len(built.text) == 3000


def test_message_kwargs_for_the_web_api() -> None:
    built = message("hello", [section("hi")])
    assert built.as_kwargs() == {"text": "hello", "blocks": built.blocks}


def test_verbatim_everywhere_even_for_our_own_text() -> None:
    assert section("see #general").to_dict()["text"]["verbatim"] is True
