"""Every form of the `/jit` grammar and every error it can give, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.grammar import (
    Cancel,
    Command,
    Extend,
    GrammarError,
    Help,
    ListVms,
    OpenRequestForm,
    PolicyCommand,
    Report,
    RequestAccess,
    Revoke,
    Status,
    parse_command,
)
from jit.model import JitSupport

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"


def _req(
    ports: tuple[int, ...] = (22,),
    vm: str = "web-01",
    duration: timedelta = timedelta(hours=2),
    source: str | None = None,
    reason: str = "",
    break_glass: bool = False,
) -> RequestAccess:
    return RequestAccess(ports, vm, duration, source, reason, break_glass)


VALID: list[tuple[str, Command]] = [
    ("", OpenRequestForm()),
    ("   \n ", OpenRequestForm()),
    ("help", Help(None)),
    ("HELP", Help(None)),
    ("help web-01", Help("web-01")),
    ("help   rg/web-01  ", Help("rg/web-01")),
    ("list", ListVms(None, None)),
    ("list configured", ListVms(JitSupport.CONFIGURED, None)),
    ("list not-configured", ListVms(JitSupport.NOT_CONFIGURED, None)),
    ("list not_configured web", ListVms(JitSupport.NOT_CONFIGURED, "web")),
    ("list not configured", ListVms(JitSupport.NOT_CONFIGURED, None)),
    ("LIST Unsupported westeurope", ListVms(JitSupport.UNSUPPORTED, "westeurope")),
    ("list prod-rg", ListVms(None, "prod-rg")),
    ("status", Status(None)),
    ("status web-01", Status("web-01")),
    (f"status {SUB.upper()}/rg/web-01", Status(f"{SUB}/rg/web-01")),
    ("enable web-01", PolicyCommand("enable", "web-01")),
    ("Edit rg-1/web-01", PolicyCommand("edit", "rg-1/web-01")),
    ("disable web-01", PolicyCommand("disable", "web-01")),
    ("extend r-7f3a 1h", Extend("r-7f3a", timedelta(hours=1))),
    ("extend r-7f3a PT30M", Extend("r-7f3a", timedelta(minutes=30))),
    ("revoke r-7f3a", Revoke("r-7f3a")),
    ("cancel `r-7f3a`", Cancel("r-7f3a")),
    ("report", Report(7)),
    ("Report 7d", Report(7)),
    ("report 30d", Report(30)),
    ("report 30", Report(30)),
    ("report 30 days", Report(30)),
    ("ssh web-01 2h fixing deploy", _req(reason="fixing deploy")),
    ("SSH web-01 2H", _req()),
    ("rdp web-01 90m", _req((3389,), duration=timedelta(minutes=90))),
    ("winrm web-01 1h30m", _req((5985, 5986), duration=timedelta(minutes=90))),
    ("ssh,8080 web-01 PT2H", _req((22, 8080))),
    ("ssh,22,8080,ssh web-01 2h", _req((22, 8080))),
    ("22,rdp,winrm web-01 2h", _req((22, 3389, 5985, 5986))),
    ("ssh, rdp web-01 2h", _req((22, 3389))),
    ("1 web-01 5m", _req((1,), duration=timedelta(minutes=5))),
    ("65535 web-01 24h", _req((65535,), duration=timedelta(hours=24))),
    ("ssh rg/web-01 2h", _req(vm="rg/web-01")),
    ("ssh my_rg(1).x/web.01_ 2h", _req(vm="my_rg(1).x/web.01_")),
    (f"ssh {SUB}/rg/web-01 2h", _req(vm=f"{SUB}/rg/web-01")),
    ("ssh " + "v" * 64 + " 2h", _req(vm="v" * 64)),
    ("ssh web-01 2h from 203.0.113.7", _req(source="203.0.113.7")),
    ("ssh web-01 1h from me", replace(_req(duration=timedelta(hours=1)), from_me=True)),
    ("ssh web-01 2h FROM My-IP deploy", replace(_req(reason="deploy"), from_me=True)),
    ("ssh web-01 2h FROM 10.1.2.0/24 deploy", _req(source="10.1.2.0/24", reason="deploy")),
    ("ssh web-01 2h from 2001:DB8:0:0::1 v6", _req(source="2001:db8::1", reason="v6")),
    ("ssh web-01 2h from 2001:db8::/32", _req(source="2001:db8::/32")),
    ("ssh web-01 2h from 0.0.0.0/0", _req(source="0.0.0.0/0")),
    ("ssh web-01 2h from ::/0", _req(source="::/0")),
    ("ssh web-01 2h from *", _req(source="*")),
    ("ssh web-01 2h outage --break-glass", _req(reason="outage", break_glass=True)),
    ("ssh web-01 2h --BREAK-GLASS outage now", _req(reason="outage now", break_glass=True)),
    ("ssh web-01 2h from 10.0.0.1 —break-glass db down", _req(source="10.0.0.1", reason="db down", break_glass=True)),
    ("ssh web-01 2h   spaces\tand\ttabs  ", _req(reason="spaces and tabs")),
    ("ssh web-01 2h <!channel> <@U123> <https://x|y> &", _req(reason="<!channel> <@U123> <https://x|y> &")),
    ("ssh web-01 2h a\u202eevil", _req(reason="aevil")),
    ("ssh web-01 2h " + "r" * 500, _req(reason="r" * 500)),
    ("ＳＳＨ ｗｅｂ－０１ ２ｈ", _req()),
    ("ssh web-01 2h 👩\u200d💻 on it", _req(reason="👩\u200d💻 on it")),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t[:40] or "<empty>" for t, _ in VALID])
def test_valid_commands_parse_to_their_command(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


INVALID: list[tuple[str, str, str]] = [
    # (input, fragment of the problem, the corrected example)
    ("ssh", "which VM", "/jit ssh web-01 2h fixing deploy"),
    ("ssh web-01", "how long", "/jit ssh web-01 2h fixing deploy"),
    ("ssh web-01 fixing deploy", "not a duration", "/jit ssh web-01 2h fixing deploy"),
    ("ssh db-7 2 hours db fix", "without a space", "/jit ssh db-7 2h db fix"),
    ("ssh db-7 45 minutes", "without a space", "/jit ssh db-7 45m"),
    ("ssh db-7 3 fix", "needs a unit", "/jit ssh db-7 3h fix"),
    ("ssh db-7 1m", "too short", "/jit ssh db-7 5m"),
    ("ssh db-7 4m59s", "too short", "/jit ssh db-7 5m"),
    ("ssh db-7 25h", "too long", "/jit ssh db-7 24h"),
    ("ssh db-7 9d", "too long", "/jit ssh db-7 2h"),
    ("ssh db-7 ２h\u200b", "not a duration", "/jit ssh db-7 2h"),
    ("db-7 ssh 2h fix it", "ports come first", "/jit ssh db-7 2h fix it"),
    ("sshh db-7 2h fix", "Did you mean `ssh`", "/jit ssh db-7 2h fix"),
    ("telnet db-7 2h", "not a port", "/jit ssh db-7 2h fixing deploy"),
    ("70000 db-7 2h", "out of range", "/jit ssh db-7 2h fixing deploy"),
    ("0 db-7 2h", "out of range", "/jit ssh db-7 2h fixing deploy"),
    ("ssh,0 db-7 2h", "out of range", "/jit ssh db-7 2h fixing deploy"),
    ("8000-8010 db-7 2h", "is a range", "/jit ssh db-7 2h fixing deploy"),
    ("ssh,,rdp db-7 2h", "empty item", "/jit ssh,8080 db-7 2h fixing deploy"),
    (",".join(str(p) for p in range(1, 30)) + " db-7 2h", "at most 20", "/jit 1,2,3 db-7 2h fixing deploy"),
    ("lst", "Did you mean `/jit list`", "/jit list"),
    ("enabel db-7", "Did you mean `/jit enable`", "/jit enable web-01"),
    ("ssh -db 2h", "start with a letter or digit", "/jit ssh db 2h fixing deploy"),
    ("ssh db. 2h", "cannot end with", "/jit ssh db 2h fixing deploy"),
    ("ssh db- 2h", "cannot end with", "/jit ssh db 2h fixing deploy"),
    ("ssh " + "v" * 65 + " 2h", "at most 64", "/jit ssh " + "v" * 64 + " 2h fixing deploy"),
    ("ssh db!7 2h", "letters, digits", "/jit ssh db7 2h fixing deploy"),
    ("ssh web\u200b-01 2h", "[U+200B]", "/jit ssh web-01 2h fixing deploy"),
    ("ssh wеb-01 2h", "look-alike", "/jit ssh web-01 2h fixing deploy"),  # Cyrillic е
    ("ssh web\u202e10-bew 2h", "[U+202E]", "/jit ssh web-01 2h fixing deploy"),
    ("ssh rg./db 2h", "resource group", "/jit ssh db 2h fixing deploy"),
    ("ssh " + "g" * 91 + "/db 2h", "resource group", "/jit ssh db 2h fixing deploy"),
    ("ssh not-a-guid/rg/db 2h", "subscription id", "/jit ssh rg/db 2h fixing deploy"),
    ("ssh a/b/c/d 2h", "name, `rg/vm`", "/jit ssh d 2h fixing deploy"),
    ("ssh rg//db 2h", "name, `rg/vm`", "/jit ssh db 2h fixing deploy"),
    ("ssh db 2h from", "needs an IP", "/jit ssh db 2h from 203.0.113.7 fixing deploy"),
    ("ssh db 2h from home wifi", "not an IP address", "/jit ssh db 2h from 203.0.113.7 wifi"),
    ("ssh db 2h from me --break-glass", "needs a reason", "/jit ssh db 2h from me prod outage INC-1234 --break-glass"),
    ("ssh db 2h from 10.1.2.3/24 fix", "did you mean `10.1.2.0/24`", "/jit ssh db 2h from 10.1.2.0/24 fix"),
    ("ssh db 2h from 2001:db8::1/32", "did you mean `2001:db8::/32`", "/jit ssh db 2h from 2001:db8::/32"),
    ("ssh db 2h from 10.1.2.0/33", "not a valid CIDR", "/jit ssh db 2h from 10.1.2.0/24"),
    ("ssh db 2h from 10.1.2.0/1234", "bad prefix", "/jit ssh db 2h from 10.1.2.0"),
    ("ssh db 2h from 10.1.2.0/x", "not an IP address or CIDR", "/jit ssh db 2h from 203.0.113.7"),
    ("ssh db 2h from 300.1.1.1", "not a valid IP", "/jit ssh db 2h from 203.0.113.7"),
    ("ssh db 2h from 010.1.1.1", "not a valid IP", "/jit ssh db 2h from 203.0.113.7"),
    ("ssh db 2h from fe80::1%eth0", "not an IP address", "/jit ssh db 2h from 203.0.113.7"),
    ("ssh db 2h --break-glass", "needs a reason", "/jit ssh db 2h prod outage INC-1234 --break-glass"),
    ("ssh db 2h --break-glas outage", "spelt `--break-glass`", "/jit ssh db 2h outage --break-glass"),
    ("ssh db 2h " + "x" * 501, "under 500", "/jit ssh db 2h " + "x" * 50),
    ("ssh db 2h " + "x" * 5000, "under 4000", "/jit ssh web-01 2h fixing deploy"),
    ("status a b", "at most one VM", "/jit status a"),
    ("status db!", "letters, digits", "/jit status db"),
    ("enable", "which VM to enable", "/jit enable web-01"),
    ("edit a b", "just one VM", "/jit edit a"),
    ("disable -x", "start with a letter", "/jit disable x"),
    ("extend", "which request", "/jit extend jr-4kQ9xZ2mP7sT 1h"),
    ("extend r-1", "how long", "/jit extend r-1 1h"),
    ("extend r-1 1h more", "one duration", "/jit extend r-1 1h"),
    ("extend r-1 2d", "too long", "/jit extend r-1 2h"),
    ("extend r/1 1h", "not a request id", "/jit extend jr-4kQ9xZ2mP7sT 1h"),
    ("revoke", "which request to revoke", "/jit revoke jr-4kQ9xZ2mP7sT"),
    ("cancel a b", "just one request id", "/jit cancel jr-4kQ9xZ2mP7sT"),
    ("revoke <!channel>", "not a request id", "/jit revoke jr-4kQ9xZ2mP7sT"),
    ("list confgured", "misspelt tab", "/jit list configured"),
    ("list configured web db", "one filter word", "/jit list configured web"),
    ("list <!here>", "not a usable filter", "/jit list web"),
    ("help " + "t" * 101, "too long", "/jit help web-01"),
    ("report 14d", "choose `7d` or `30d`", "/jit report 30d"),
    ("report last week", "not a period", "/jit report 30d"),
    ("report 7d 30d", "not a period", "/jit report 30d"),
    ("reprot", "Did you mean `/jit report`", "/jit report"),
]


@pytest.mark.parametrize(("text", "problem", "example"), INVALID, ids=[t[:40] for t, _, _ in INVALID])
def test_errors_say_what_was_wrong_and_show_a_corrected_example(text: str, problem: str, example: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command(text)
    assert problem in caught.value.problem
    assert caught.value.example == example


@pytest.mark.parametrize(("text", "problem", "example"), INVALID, ids=[t[:40] for t, _, _ in INVALID])
def test_every_corrected_request_example_itself_parses(text: str, problem: str, example: str) -> None:
    parse_command(example.removeprefix("/jit"))


def test_fullwidth_digits_are_normalised_not_smuggled() -> None:
    parsed = parse_command("２２ web-01 ９０m from １０.０.０.１")
    assert parsed == _req((22,), duration=timedelta(minutes=90), source="10.0.0.1")


def test_non_ascii_digits_that_nfkc_keeps_are_refused() -> None:
    with pytest.raises(GrammarError):
        parse_command("ssh web-01 ٢h")
    with pytest.raises(GrammarError):
        parse_command("٢٢ web-01 2h")


def test_reason_keeps_hostile_text_verbatim_for_the_renderer_to_escape() -> None:
    parsed = parse_command("ssh web-01 2h <!channel> please")
    assert isinstance(parsed, RequestAccess)
    assert parsed.reason == "<!channel> please"


def test_control_characters_are_removed_from_the_reason() -> None:
    parsed = parse_command("ssh web-01 2h ok\x07\x1b[31mred")
    assert isinstance(parsed, RequestAccess)
    assert parsed.reason == "ok[31mred"


def test_grammar_error_message_contains_problem_and_example() -> None:
    error = GrammarError("Port is wrong.", "/jit ssh web-01 2h")
    assert str(error) == "Port is wrong. Try: /jit ssh web-01 2h"
