"""The grammar's corrections, case by case: what was typed, what the message says, the example it shows and the
request it hands to the domain to check against the VM — and the example itself parses.

A correction keeps everything the person typed that was valid (ports, VM, ``from`` address, the whole reason,
``--break-glass``) and changes only what was wrong; a request naming a VM is handed on (``GrammarError.request``)
so the suggestion people see has passed that VM's checks (``tests/e2e/test_suggestions_table.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.grammar import GrammarError, RequestAccess, parse_command
from jit.hints import RequestHint

H = timedelta(hours=1)


@dataclass(frozen=True)
class Case:
    typed: str
    says: str
    example: str
    request: RequestHint | None


CASES = [
    Case("web-01 1h", "ports come first", "/jit ssh web-01 1h", RequestHint((), "web-01", H)),
    Case(
        "bastion-win 1h prod down --break-glass",
        "ports come first",
        "/jit ssh bastion-win 1h prod down --break-glass",
        RequestHint((), "bastion-win", H, None, "prod down", True),
    ),
    Case(
        "web-01 90m from 203.0.113.7 INC-1234 deploy",
        "ports come first",
        "/jit ssh web-01 1h30m from 203.0.113.7 INC-1234 deploy",
        RequestHint((), "web-01", timedelta(minutes=90), "203.0.113.7", "INC-1234 deploy"),
    ),
    Case(
        "ssh web-01 1hr fixing",
        "did you mean `1h`",
        "/jit ssh web-01 1h fixing",
        RequestHint((22,), "web-01", H, None, "fixing"),
    ),
    Case(
        "ssh web-01 -1h fixing",
        "never negative",
        "/jit ssh web-01 1h fixing",
        RequestHint((22,), "web-01", H, None, "fixing"),
    ),
    Case(
        "rdp web-01 90mins from 203.0.113.7 x --break-glass",
        "did you mean `1h30m`",
        "/jit rdp web-01 1h30m from 203.0.113.7 x --break-glass",
        RequestHint((3389,), "web-01", timedelta(minutes=90), "203.0.113.7", "x", True),
    ),
    Case(
        "ssh web-01 2 hours " + "a long reason " * 8,
        "without a space",
        "/jit ssh web-01 2h " + ("a long reason " * 8).strip(),
        RequestHint((22,), "web-01", 2 * H, None, ("a long reason " * 8).strip()),
    ),
    Case(
        "70000 web-01 1h",
        "out of range",
        "/jit ssh web-01 1h fixing deploy",
        RequestHint((22,), "web-01", H, None, "fixing deploy"),
    ),
    Case("web01 1hr", "did you mean `1h`", "/jit ssh web01 1h", RequestHint((), "web01", H)),
    Case("ssh", "which VM", "/jit ssh web-01 2h fixing deploy", None),
    Case("ssh bad_name! 1h", "not a valid VM name", "/jit ssh bad_name 1h fixing deploy", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.typed[:40] for c in CASES])
def test_the_correction_keeps_what_was_right_and_parses(case: Case) -> None:
    with pytest.raises(GrammarError) as refused:
        parse_command(case.typed)

    assert case.says.lower() in refused.value.problem.lower()
    assert refused.value.example == case.example
    assert refused.value.request == case.request
    again = parse_command(refused.value.example.removeprefix("/jit "))
    assert isinstance(again, RequestAccess)
