"""The grammar names VMs by the domain's rules (``jit.vm_names``): what a command accepts, the gateway accepts."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.grammar import GrammarError, parse_vm
from jit.ports.azure_errors import InvalidVmName
from jit.vm_names import parse_vm_spec

NAME_CHARS = string.ascii_letters + string.digits + "._-()*+!~"
NAMES = st.text(NAME_CHARS, max_size=95)


def _grammar_accepts(spec: str) -> bool:
    try:
        parse_vm(spec)
    except GrammarError:
        return False
    return True


def _domain_accepts(spec: str) -> bool:
    try:
        parse_vm_spec(spec)
    except InvalidVmName:
        return False
    return True


@settings(max_examples=2000, deadline=None, database=None)
@given(NAMES, st.none() | NAMES)
def test_a_command_accepts_exactly_the_vm_and_group_names_azure_can_hold(name: str, group: str | None) -> None:
    spec = name if group is None else f"{group}/{name}"
    assert _grammar_accepts(spec) == _domain_accepts(spec)


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("-web-01-", "/jit ssh web-01 2h fixing deploy"),
        ("web!01", "/jit ssh web01 2h fixing deploy"),
        ("rg-1/web#01.", "/jit ssh rg-1/web01 2h fixing deploy"),
        ("x" * 70, f"/jit ssh {'x' * 64} 2h fixing deploy"),
        ("!!!", "/jit ssh web-01 2h fixing deploy"),
    ],
)
def test_a_bad_vm_name_comes_back_as_the_nearest_name_azure_allows(typed: str, suggested: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_vm(typed)
    assert caught.value.example == suggested


def test_a_subscription_is_given_as_its_id_and_lower_cased() -> None:
    guid = "ABCDEF00-1111-2222-3333-444455556666"
    assert parse_vm(f"{guid}/rg/web-01") == f"{guid.lower()}/rg/web-01"
    with pytest.raises(GrammarError, match="not a subscription id"):
        parse_vm("my-subscription/rg/web-01")
