"""The approval card's security section: what it says for each part read, refused, slow or failed, a stopped VM,
long and hostile titles, always within Slack's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.blocks.common import Message, message
from bot.blocks.security_context import security_context_blocks
from jit.vm_security import (
    ContextPart,
    DefenderAlert,
    DefenderRecommendation,
    PowerState,
    ReadOutcome,
    SecurityContext,
    SecuritySeverity,
    VmProfile,
    VmRuntime,
)
from tests.bot.blocks_support import HOSTILE, NOW, all_text, assert_literal, check_message, texts, vm_ref

VULNERABILITIES = "Machines should have vulnerability findings resolved"
PORTS = "Management ports should be closed on your virtual machines"
LOGON = "Suspicious authentication activity"


def security(**changes: Any) -> SecurityContext:
    """web-01 as the sandbox shows it: a high and a medium recommendation, no alert, a public IP, running Linux."""
    base = SecurityContext(
        vm=vm_ref(),
        read_at=NOW,
        recommendations=ContextPart.read(
            (
                DefenderRecommendation(VULNERABILITIES, SecuritySeverity.HIGH),
                DefenderRecommendation(PORTS, SecuritySeverity.MEDIUM),
            )
        ),
        alerts=ContextPart.read(()),
        runtime=ContextPart.read(VmRuntime(PowerState.RUNNING, "ubuntu", "24.04")),
        profile=ContextPart.read(VmProfile(("20.61.10.4",), "Linux")),
    )
    return replace(base, **changes)


def rendered(context: SecurityContext) -> Message:
    """The section as a message, checked against Slack's limits."""
    shown = message("security context", security_context_blocks(context))
    check_message(shown)
    return shown


def test_everything_read() -> None:
    shown = rendered(security())
    assert [block["type"] for block in shown.blocks] == ["section", "context"]
    facts = texts(shown.blocks)[0]
    assert facts.splitlines() == [
        f":shield: *Defender: 2 unhealthy recommendations* (1 high, 1 medium): _{VULNERABILITIES}_; _{PORTS}_.",
        ":white_check_mark: No open Defender security alerts.",
        ":globe_with_meridians: Public IP `20.61.10.4` · Linux (ubuntu 24.04) · :large_green_circle: Running",
    ]
    assert texts(shown.blocks)[1].startswith("Security context from Azure, read <!date^")
    assert "could not be read" not in all_text(shown)


def test_a_stopped_vm_is_said_first() -> None:
    shown = rendered(security(runtime=ContextPart.read(VmRuntime(PowerState.DEALLOCATED))))
    assert texts(shown.blocks)[0] == (
        ":red_circle: *Stopped (deallocated):* nobody can connect to `web-01` until it is started. "
        "Approving opens the ports, not the VM."
    )
    assert "Running" not in all_text(shown)
    assert "Linux ·" not in all_text(shown) and texts(shown.blocks)[1].endswith("`20.61.10.4` · Linux")


def test_stopping_and_starting() -> None:
    stopping = rendered(security(runtime=ContextPart.read(VmRuntime(PowerState.STOPPING))))
    assert texts(stopping.blocks)[0].startswith(":red_circle: *Stopping:* nobody can connect")
    starting = rendered(security(runtime=ContextPart.read(VmRuntime(PowerState.STARTING))))
    assert texts(starting.blocks)[0].endswith(":large_yellow_circle: Starting")


def test_a_refused_part_is_a_note_not_good_news() -> None:
    shown = rendered(security(recommendations=ContextPart.unread(ReadOutcome.REFUSED, "AzureForbidden 403")))
    text = all_text(shown)
    assert ":shield:" not in text
    assert ":grey_question: Defender recommendations could not be read (jitbot lacks permission)." in text
    assert "403" not in text, "Azure's detail is for logs"


def test_slow_and_failed_parts_say_why() -> None:
    shown = rendered(
        security(
            alerts=ContextPart.unread(ReadOutcome.SLOW, "no answer within 1.5s"),
            runtime=ContextPart.unread(ReadOutcome.FAILED, "AzureUnavailable 500"),
            profile=ContextPart.unread(ReadOutcome.REFUSED),
        )
    )
    notes = texts(shown.blocks)[-2]
    assert notes == (
        ":grey_question: Security alerts could not be read (Azure did not answer in time). "
        "The power state could not be read (Azure could not answer). "
        "The public IPs and OS could not be read (jitbot lacks permission)."
    )
    assert "No open" not in all_text(shown)
    assert "Running" not in all_text(shown)
    assert "Stopped" not in all_text(shown)


def test_nothing_read_still_renders() -> None:
    shown = rendered(
        security(
            recommendations=ContextPart.unread(ReadOutcome.SLOW),
            alerts=ContextPart.unread(ReadOutcome.SLOW),
            runtime=ContextPart.unread(ReadOutcome.SLOW),
            profile=ContextPart.unread(ReadOutcome.SLOW),
        )
    )
    assert [block["type"] for block in shown.blocks] == ["context"]
    assert all_text(shown).count("could not be read (Azure did not answer in time)") == 4


def test_an_unreported_power_state_is_noted() -> None:
    shown = rendered(security(runtime=ContextPart.read(VmRuntime(PowerState.UNKNOWN))))
    assert "Azure did not report the power state." in all_text(shown)
    assert "Running" not in all_text(shown)


def test_no_findings_no_public_ip_and_windows() -> None:
    shown = rendered(
        security(
            recommendations=ContextPart.read(()),
            runtime=ContextPart.read(
                VmRuntime(PowerState.RUNNING, "Windows Server 2022 Datacenter", "Microsoft Windows NT 10.0.20348.0")
            ),
            profile=ContextPart.read(VmProfile((), "Windows")),
        )
    )
    assert texts(shown.blocks)[0].splitlines() == [
        ":shield: *Defender:* no unhealthy recommendations.",
        ":white_check_mark: No open Defender security alerts.",
        "No public IP · Windows (Windows Server 2022 Datacenter) · :large_green_circle: Running",
    ]


def test_many_findings_name_the_most_severe_and_count_the_rest() -> None:
    recommendations = tuple(
        DefenderRecommendation(f"Recommendation {n}", severity)
        for n, severity in enumerate(
            [SecuritySeverity.HIGH, SecuritySeverity.LOW, SecuritySeverity.LOW, SecuritySeverity.UNKNOWN]
        )
    )
    alerts = tuple(
        DefenderAlert(f"Alert {n}", SecuritySeverity.HIGH, in_progress=n == 0, since=NOW - timedelta(hours=n))
        for n in range(5)
    )
    shown = rendered(
        security(
            recommendations=ContextPart.read(recommendations),
            alerts=ContextPart.read(alerts),
            profile=ContextPart.read(VmProfile(("20.1.2.3", "20.1.2.4"), "Linux")),
        )
    )
    lines = texts(shown.blocks)[0].splitlines()
    assert lines[0] == (
        ":shield: *Defender: 4 unhealthy recommendations* (1 high, 2 low, 1 of unknown severity): "
        "_Recommendation 0_; _Recommendation 1_ and 2 more."
    )
    assert lines[1] == (
        ":rotating_light: *5 open security alerts:* _Alert 0_ (high, being handled); _Alert 1_ (high); "
        "_Alert 2_ (high) and 2 more."
    )
    assert lines[2].startswith(":globe_with_meridians: Public IPs `20.1.2.3`, `20.1.2.4` ·")


def test_one_alert_and_one_recommendation_are_singular() -> None:
    shown = rendered(
        security(
            recommendations=ContextPart.read((DefenderRecommendation(PORTS, SecuritySeverity.MEDIUM),)),
            alerts=ContextPart.read((DefenderAlert(LOGON, SecuritySeverity.MEDIUM),)),
        )
    )
    lines = texts(shown.blocks)[0].splitlines()
    assert lines[0] == f":shield: *Defender: 1 unhealthy recommendation* (1 medium): _{PORTS}_."
    assert lines[1] == f":rotating_light: *1 open security alert:* _{LOGON}_ (medium)."


def test_titles_from_azure_are_shown_literally_and_short() -> None:
    long_title = "Close this " + "very " * 100 + "long recommendation"
    shown = rendered(
        security(
            recommendations=ContextPart.read(
                (
                    DefenderRecommendation(HOSTILE, SecuritySeverity.HIGH),
                    DefenderRecommendation(long_title, SecuritySeverity.LOW),
                )
            ),
            alerts=ContextPart.read((DefenderAlert(HOSTILE + "\nApproved by <@U0BOSS>", SecuritySeverity.LOW),)),
            runtime=ContextPart.read(VmRuntime(PowerState.RUNNING, "<!here> os", "1.0")),
        )
    )
    text = all_text(shown)
    assert_literal(text)
    assert "<!here>" not in text
    assert "\nApproved by" not in text
    assert long_title not in text
    assert "Close this very" in text


def test_fifty_long_findings_stay_within_slacks_limits() -> None:
    many = tuple(DefenderRecommendation("x" * 500, SecuritySeverity.HIGH) for _ in range(50))
    alerts = tuple(DefenderAlert("y" * 500, SecuritySeverity.HIGH) for _ in range(50))
    rendered(security(recommendations=ContextPart.read(many), alerts=ContextPart.read(alerts)))
