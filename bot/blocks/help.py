"""`/jit help`: the grammar, examples, port names, the other commands, and the rule that applies to a VM."""

from __future__ import annotations

import re

from slack_sdk.models.blocks import Block

from bot.blocks.common import Message, code, context, divider, escape_mrkdwn, header, message, section
from bot.grammar import BREAK_GLASS_FLAG, MAX_REASON_CHARS

_SLACK_ID = re.compile(r"\b(?:[UW][A-Z0-9]{8,}|S[A-Z0-9]{8,}|[CG][A-Z0-9]{8,})\b")

_USAGE = escape_mrkdwn(
    "*Ask for access*\n"
    "`/jit <ports> <vm> <duration> [from <ip-or-cidr>] [reason …]`\n"
    "• *ports*: `ssh` (22), `rdp` (3389), `winrm` (5985, 5986), a number from 1 to 65535, or a comma list "
    "like `ssh,8080`\n"
    "• *vm*: its name, or `resource-group/name`, or `subscription-id/resource-group/name` when the name is "
    "used more than once\n"
    "• *duration*: `90m`, `2h`, `1h30m` or ISO 8601 `PT2H`; at least 5 minutes, at most 24 hours and "
    "never more than the VM's policy allows\n"
    "• *from*: the address to open the port to (one IP, or a network like `10.1.2.0/24`), or `from me` to "
    "confirm the address you are on in a browser; without it the team's default source is used\n"
    f"• *reason*: everything after that, up to {MAX_REASON_CHARS} characters (some VMs require a ticket "
    "number)"
)

_EXAMPLES = (
    "*Examples*\n"
    "`/jit ssh web-01 2h fixing deploy`\n"
    "`/jit rdp prod-rg/sql-02 90m from 203.0.113.7 INC-4711 disk full`\n"
    "`/jit ssh,8080 web-01 PT30M checking the health endpoint`"
)

_COMMANDS = escape_mrkdwn(
    "*Other commands*\n"
    "`/jit` alone: a form to fill in\n"
    "`/jit status`: your pending requests and open access · `/jit status <vm>`: a VM's policy and open ports\n"
    "`/jit extend <request-id> <duration>` · `/jit revoke <request-id>` · `/jit cancel <request-id>`\n"
    "`/jit list [configured | not-configured | unsupported] [filter]`: the VMs, like the portal's JIT page\n"
    "`/jit enable <vm>` · `/jit edit <vm>` · `/jit disable <vm>`: set up JIT on a VM (admins)\n"
    "`/jit report [7d | 30d]`: the access review of the last 7 (default) or 30 days, with a chart and a CSV, "
    "by DM (approvers and admins)\n"
    f"`/jit <ports> <vm> <duration> <reason> {BREAK_GLASS_FLAG}`: emergency access without waiting, for "
    "members of the break-glass group; announced loudly and reviewed afterwards"
)


def help_message(*, rule: str | None = None, topic: str | None = None) -> Message:
    """The full help; ``rule`` (plain text from the routing rules) says who approves requests for ``topic``."""
    blocks: list[Block] = [header("How to use /jit"), section(_USAGE), section(_EXAMPLES), section(_COMMANDS)]
    if rule:
        about = f" for {code(topic, 100)}" if topic else ""
        blocks += [divider(), section(f"*The rule that applies{about}*\n{with_mentions(escape_mrkdwn(rule))}")]
    elif topic:
        blocks += [divider(), section(f"No specific rule found for {code(topic, 100)}; the defaults apply.")]
    blocks.append(context("Every request is checked against the VM's JIT policy before approvers see it."))
    return message(escape_mrkdwn("How to use /jit: /jit <ports> <vm> <duration> [from <ip-or-cidr>] [reason]"), blocks)


def with_mentions(text: str) -> str:
    """``text`` (already escaped) with the Slack ids the rules name written as mentions Slack shows by name: users
    ``<@U…>``, user groups ``<!subteam^S…>``, channels ``<#C…>``; ids inside `code spans` stay literal."""
    spans = text.split("`")
    for index in range(0, len(spans), 2):
        spans[index] = _SLACK_ID.sub(_mention_of, spans[index])
    return "`".join(spans)


def _mention_of(found: re.Match[str]) -> str:
    slack_id = found.group(0)
    if slack_id[0] in "UW":
        return f"<@{slack_id}>"
    if slack_id[0] == "S":
        return f"<!subteam^{slack_id}>"
    return f"<#{slack_id}>"
