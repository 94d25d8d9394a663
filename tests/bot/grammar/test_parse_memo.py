"""A command is parsed by the ack and again by its handler; the second parse is remembered, never a mistake."""

from __future__ import annotations

import pytest

from bot.grammar import GrammarError, RequestAccess, parse_command


def test_the_same_text_gives_the_same_command_without_parsing_it_again() -> None:
    text = "ssh web-01 2h deploy the memo test"

    first = parse_command(text)

    assert isinstance(first, RequestAccess)
    assert parse_command(text) is first


def test_a_mistake_is_raised_afresh_each_time() -> None:
    text = "ssh web-01 2 lightyears"
    with pytest.raises(GrammarError) as first:
        parse_command(text)
    with pytest.raises(GrammarError) as again:
        parse_command(text)

    assert again.value is not first.value
    assert again.value.problem == first.value.problem
