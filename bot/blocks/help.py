"""`/jit help`: the grammar, examples, port names, the other commands, and the rule that applies to a VM."""

from __future__ import annotations

import re
from collections.abc import Collection

from slack_sdk.models.blocks import Block

from bot.blocks.common import Message, code, context, divider, escape_mrkdwn, header, message, section
from bot.grammar import BREAK_GLASS_FLAG, MAX_REASON_CHARS

_USAGE = escape_mrkdwn(
    "*Ask for access*\n"
    "`/jit <ports> <vm> <duration> [from <ip-or-cidr>] [reason …]`\n"
    "• *ports*: `ssh` (22), `rdp` (3389), `winrm` (5985, 5986), a number from 1 to 65535, or a comma list "
    "like `ssh,8080`\n"
    "• *vm*: its name, or `resource-group/name`, or `subscription-id/resource-group/name` when the name is "
    "used more than once\n"
    "• *duration*: `90m`, `2h`, `1h30m` or ISO 8601 `PT2H`; at least 5 minutes, at most 24 hours and "
    "never more than the VM's policy allows\n"
    "• *from*: the address to open the port to (one IP, or a network like `10.1.2.0/24`); without it the "
    "team's default source is used\n"
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
    f"`/jit <ports> <vm> <duration> <reason> {BREAK_GLASS_FLAG}`: emergency access without waiting, for "
    "members of the break-glass group; announced loudly and reviewed afterwards"
)


_ID_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]{2,}\b")


def _slack_reference(slack_id: str) -> str:
    """How Slack writes an id so that each reader sees a name: a user, a user group or a channel."""
    if slack_id.startswith("S"):
        return f"<!subteam^{slack_id}>"
    if slack_id[0] in "CG":
        return f"<#{slack_id}>"
    return f"<@{slack_id}>"


def with_names(escaped_text: str, ids: Collection[str]) -> str:
    """``escaped_text`` with each of ``ids`` (and only those) written as a Slack mention, so people read names."""
    return _ID_TOKEN.sub(lambda m: _slack_reference(m[0]) if m[0] in ids else m[0], escaped_text)


def help_message(*, rule: str | None = None, topic: str | None = None, ids: Collection[str] = ()) -> Message:
    """The full help; ``rule`` (plain text from the routing rules) says who approves requests for ``topic``;
    the user, group and channel ids in ``ids`` are shown as names."""
    blocks: list[Block] = [header("How to use /jit"), section(_USAGE), section(_EXAMPLES), section(_COMMANDS)]
    if rule:
        about = f" for {code(topic, 100)}" if topic else ""
        blocks += [divider(), section(f"*The rule that applies{about}*\n{with_names(escape_mrkdwn(rule), ids)}")]
    elif topic:
        blocks += [divider(), section(f"No specific rule found for {code(topic, 100)}; the defaults apply.")]
    blocks.append(context("Every request is checked against the VM's JIT policy before approvers see it."))
    return message(escape_mrkdwn("How to use /jit: /jit <ports> <vm> <duration> [from <ip-or-cidr>] [reason]"), blocks)
