"""The approval card's security context: what Defender for Cloud says about the VM, its open alerts, how it is
exposed, whether it runs, and which of these could not be read (and why).

A stopped VM comes first and loud, because approving cannot make it reachable. A part that could not be read is
never shown as good news: its line is left out and a note says why it is missing. Titles come from Azure, so they
are shown literally (escaped, one line, shortened) like anything a person typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.blocks.common import code, context, escape_mrkdwn, one_line, section, slack_date, truncate
from jit.vm_security import (
    ContextPart,
    DefenderAlert,
    DefenderRecommendation,
    PowerState,
    ReadOutcome,
    SecurityContext,
    SecuritySeverity,
)

TITLE_LIMIT = 120
NAMED_RECOMMENDATIONS = 2
NAMED_ALERTS = 3
_VERSION = re.compile(r"^[0-9][0-9.]*$")
_WHY_UNREAD = {
    ReadOutcome.REFUSED: "jitbot lacks permission",
    ReadOutcome.SLOW: "Azure did not answer in time",
    ReadOutcome.FAILED: "Azure could not answer",
}
_STOPPED: dict[PowerState, str] = {
    PowerState.DEALLOCATED: "Stopped (deallocated)",
    PowerState.STOPPED: "Stopped",
    PowerState.DEALLOCATING: "Stopping (deallocating)",
    PowerState.STOPPING: "Stopping",
}


def security_context_blocks(security: SecurityContext) -> list[Block]:
    """The card's security section: a warning when the VM cannot be reached, the facts that could be read, and a
    small note naming what could not be read and why, with when the context was read."""
    blocks: list[Block] = []
    warning = _power_warning(security)
    if warning:
        blocks.append(section(warning))
    lines = [
        line
        for line in (
            _recommendations_line(security.recommendations),
            _alerts_line(security.alerts),
            _machine_line(security),
        )
        if line
    ]
    if lines:
        blocks.append(section("\n".join(lines)))
    blocks.append(context(*_notes(security)))
    return blocks


def _title(text: str) -> str:
    return escape_mrkdwn(truncate(one_line(text), TITLE_LIMIT))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _recommendations_line(part: ContextPart[tuple[DefenderRecommendation, ...]]) -> str:
    found = part.value
    if found is None:
        return ""
    if not found:
        return ":shield: *Defender:* no unhealthy recommendations."
    counts = ", ".join(
        f"{sum(1 for r in found if r.severity is severity)} {_severity_word(severity)}"
        for severity in SecuritySeverity
        if any(r.severity is severity for r in found)
    )
    named = "; ".join(f"_{_title(r.title)}_" for r in found[:NAMED_RECOMMENDATIONS])
    more = f" and {len(found) - NAMED_RECOMMENDATIONS} more" if len(found) > NAMED_RECOMMENDATIONS else ""
    return f":shield: *Defender: {_plural(len(found), 'unhealthy recommendation')}* ({counts}): {named}{more}."


def _severity_word(severity: SecuritySeverity) -> str:
    return "of unknown severity" if severity is SecuritySeverity.UNKNOWN else severity.value


def _alerts_line(part: ContextPart[tuple[DefenderAlert, ...]]) -> str:
    found = part.value
    if found is None:
        return ""
    if not found:
        return ":white_check_mark: No open Defender security alerts."
    shown = [
        f"_{_title(a.title)}_ ({_severity_word(a.severity)}{', being handled' if a.in_progress else ''})"
        for a in found[:NAMED_ALERTS]
    ]
    more = f" and {len(found) - NAMED_ALERTS} more" if len(found) > NAMED_ALERTS else ""
    return f":rotating_light: *{_plural(len(found), 'open security alert')}:* {'; '.join(shown)}{more}."


def _machine_line(security: SecurityContext) -> str:
    facts: list[str] = []
    profile = security.profile.value
    if profile is not None:
        if profile.public_ips:
            label = "Public IP" if len(profile.public_ips) == 1 else "Public IPs"
            facts.append(f":globe_with_meridians: {label} " + ", ".join(code(ip, 60) for ip in profile.public_ips))
        else:
            facts.append("No public IP")
    system = _system(security)
    if system:
        facts.append(system)
    runtime = security.runtime.value
    if runtime is not None and runtime.power is PowerState.RUNNING:
        facts.append(":large_green_circle: Running")
    elif runtime is not None and runtime.power is PowerState.STARTING:
        facts.append(":large_yellow_circle: Starting")
    return " · ".join(facts)


def _system(security: SecurityContext) -> str:
    profile, runtime = security.profile.value, security.runtime.value
    os_type = escape_mrkdwn(one_line(profile.os_type)) if profile is not None and profile.os_type else ""
    reported = ""
    if runtime is not None and runtime.os_name:
        version = runtime.os_version if runtime.os_version and _VERSION.match(runtime.os_version) else ""
        reported = escape_mrkdwn(truncate(one_line(f"{runtime.os_name} {version}"), 80))
    if os_type and reported:
        return f"{os_type} ({reported})"
    return os_type or reported


def _power_warning(security: SecurityContext) -> str:
    runtime = security.runtime.value
    if runtime is None or runtime.power not in _STOPPED:
        return ""
    return (
        f":red_circle: *{_STOPPED[runtime.power]}:* nobody can connect to {code(security.vm.name, 80)} until it is "
        "started. Approving opens the ports, not the VM."
    )


def _notes(security: SecurityContext) -> Sequence[str]:
    missing = [
        f"{what} could not be read ({_WHY_UNREAD[part.outcome]})."
        for what, part in (
            ("Defender recommendations", security.recommendations),
            ("Security alerts", security.alerts),
            ("The power state", security.runtime),
            ("The public IPs and OS", security.profile),
        )
        if part.outcome is not ReadOutcome.READ
    ]
    runtime = security.runtime.value
    if runtime is not None and runtime.power is PowerState.UNKNOWN:
        missing.append("Azure did not report the power state.")
    read = f"Security context from Azure, read {slack_date(security.read_at, '{date_short_pretty} {time}')}."
    return [read, *missing] if not missing else [f":grey_question: {' '.join(missing)}", read]
