"""`jitbot doctor` against the emulators: a good configuration passes, each broken one fails with a fix."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.doctor import run_doctor
from sandbox.arm_demo import PROD
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, GENERAL_CHANNEL, ONCALL_CHANNEL
from sandbox.stack import Stack, StackOptions
from tests.deploy.wiring import REPO


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    async with Stack(StackOptions(redis_url=redis_server.url, env={"AZURE_SUBSCRIPTION_IDS": PROD})) as running:
        yield running


async def _doctor(stack: Stack, **changes: str) -> tuple[int, str]:
    env = dict(stack.env) | changes
    out = io.StringIO()
    code = await run_doctor(env, out=out, connection_verify=str(stack.arm.ca_file))
    return code, out.getvalue()


async def test_good_configuration_passes(stack: Stack) -> None:
    code, output = await _doctor(stack)
    assert code == 0, output
    assert "FAIL" not in output
    for expected in ("bot scopes", "approval channel", "user group", "Redis: reachable", "token", "Defender"):
        assert expected in output
    assert stack.slack.workspace.token not in output
    assert stack.env["IDENTITY_HEADER"] not in output


async def test_invalid_token_fails_with_fix(stack: Stack) -> None:
    code, output = await _doctor(stack, SLACK_BOT_TOKEN="xoxb-not-the-right-one")
    assert code == 1
    assert "FAIL  Slack: bot token valid" in output
    assert "Reinstall the app" in output
    assert "xoxb-not-the-right-one" not in output


async def test_missing_scope_is_named(stack: Stack) -> None:
    stack.slack.workspace.scopes.remove("usergroups:read")
    code, output = await _doctor(stack)
    assert code == 1
    assert "missing usergroups:read" in output


async def test_bot_not_in_channel(stack: Stack) -> None:
    code, output = await _doctor(stack, JITBOT_APPROVAL_CHANNEL=GENERAL_CHANNEL)
    assert code == 1
    assert f"bot is in the approval channel {GENERAL_CHANNEL}" in output
    assert "/invite @jitbot" in output
    assert APPROVAL_CHANNEL not in output


async def test_the_review_channel_is_checked_when_set(stack: Stack) -> None:
    code, output = await _doctor(stack, JITBOT_REVIEW_CHANNEL=ONCALL_CHANNEL)
    assert code == 0, output
    assert f"PASS  Slack: bot is in the review channel {ONCALL_CHANNEL}" in output

    code, output = await _doctor(stack, JITBOT_REVIEW_CHANNEL=GENERAL_CHANNEL)
    assert code == 1
    assert f"bot is in the review channel {GENERAL_CHANNEL}" in output and "/invite @jitbot" in output


async def test_unknown_user_group(stack: Stack) -> None:
    code, output = await _doctor(stack, JITBOT_APPROVERS="S0NOSUCHGRP")
    assert code == 1
    assert "user group S0NOSUCHGRP exists" in output


async def test_every_group_named_in_the_rules_and_the_environment_is_checked(stack: Stack, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: web\n"
        "    match: {resource_group: rg-web}\n"
        "    auto_approve: {requesters: [S0ONCALLRS], deny: [S0DELETED1], max_duration: 1h}\n"
        "    escalation: {after: 10m, to: [S0MISTYPED]}\n",
        encoding="utf-8",
    )

    code, output = await _doctor(
        stack, JITBOT_RULES_FILE=str(rules), JITBOT_BREAK_GLASS_GROUP="S0NOGLASS1", JITBOT_ADMINS="S0NOADMIN1"
    )

    assert code == 1
    for group, where in (
        ("S0DELETED1", "rule `web` auto_approve deny"),
        ("S0MISTYPED", "rule `web` escalation"),
        ("S0NOGLASS1", "JITBOT_BREAK_GLASS_GROUP"),
        ("S0NOADMIN1", "JITBOT_ADMINS"),
    ):
        line = next(line for line in output.splitlines() if f"user group {group} exists" in line)
        assert line.startswith("FAIL") and "no_such_subteam" in line and where in line, line
    passed = next(line for line in output.splitlines() if "user group S0ONCALLRS exists" in line)
    assert passed.startswith("PASS") and "rule `web` auto_approve requesters" in passed


async def test_a_tag_rule_that_could_loosen_a_scope_rule_is_warned_about(stack: Stack, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: lab-tag\n"
        "    match: {tags: {env: lab}}\n"
        "    auto_approve: {max_duration: 4h}\n"
        "  - name: prod-data\n"
        "    match: {resource_group: rg-data}\n"
        "    quorum: 2\n",
        encoding="utf-8",
    )

    code, output = await _doctor(stack, JITBOT_RULES_FILE=str(rules))

    assert code == 0, output
    assert "WARN  Rules: tag rule `lab-tag` (line 2)" in output
    assert "laxer than rule `prod-data`: automatic approval" in output
    assert "Match `lab-tag` by subscription, resource group or region" in output


async def test_redis_unreachable(stack: Stack) -> None:
    code, output = await _doctor(stack, REDIS_URL="redis://127.0.0.1:1/0")
    assert code == 1
    assert "FAIL  Redis: reachable" in output


async def test_redis_without_persistence_warns_but_passes(stack: Stack) -> None:
    code, output = await _doctor(stack)
    assert code == 0
    assert "WARN  Redis: persistent" in output
    assert "appendonly yes" in output


async def test_redis_with_aof_passes(stack: Stack) -> None:
    with RedisServer(appendonly=True) as durable:
        code, output = await _doctor(stack, REDIS_URL=durable.url)
    assert code == 0
    assert "PASS  Redis: persistent" in output


async def test_defender_off_subscription_fails(stack: Stack) -> None:
    lab = next(s.id for s in stack.arm.inventory.subscriptions if not s.defender_for_servers)
    code, output = await _doctor(stack, AZURE_SUBSCRIPTION_IDS=f"{PROD},{lab}")
    assert code == 1
    assert f"{lab}: Defender for Servers" in output
    assert "Environment settings" in output


async def test_azure_identity_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-header")
    code, output = await _doctor(stack)
    assert code == 1
    assert "FAIL  Azure: credential obtains a token" in output
    assert "DefaultAzureCredential" in output


async def test_missing_settings_list_every_problem() -> None:
    out = io.StringIO()
    code = await run_doctor({}, out=out)
    assert code == 1
    for name in ("SLACK_BOT_TOKEN", "AZURE_SUBSCRIPTION_IDS", "JITBOT_APPROVAL_CHANNEL", "JITBOT_DEFAULT_SOURCE"):
        assert name in out.getvalue()


async def test_an_app_installed_exactly_from_the_manifest_passes(stack: Stack) -> None:
    manifest = yaml.safe_load((REPO / "deploy" / "slack-app-manifest.yaml").read_text(encoding="utf-8"))
    stack.slack.workspace.scopes[:] = manifest["oauth_config"]["scopes"]["bot"]
    code, output = await _doctor(stack)
    assert code == 0, output
    assert "PASS  Slack: bot scopes" in output


async def test_graph_permission_is_checked_unless_rbac_is_off(stack: Stack) -> None:
    code, output = await _doctor(stack)
    assert code == 0, output
    assert "PASS  Microsoft Graph: User.Read.All granted" in output

    stack.graph.granted_permissions.clear()
    code, output = await _doctor(stack)
    assert code == 1
    assert "FAIL  Microsoft Graph: User.Read.All granted" in output
    assert "application permission User.Read.All" in output

    code, output = await _doctor(stack, JITBOT_REQUESTER_RBAC="off")
    assert code == 0, output
    assert "Microsoft Graph" not in output


async def test_management_group_subscriptions_are_shown(stack: Stack) -> None:
    code, output = await _doctor(stack, AZURE_MANAGEMENT_GROUP="mg-production", AZURE_SUBSCRIPTION_IDS="")
    assert code == 0, output
    assert "PASS  Azure: management group mg-production: subscriptions" in output
    assert f"1: {PROD}" in output

    code, output = await _doctor(stack, AZURE_MANAGEMENT_GROUP="mg-nowhere", AZURE_SUBSCRIPTION_IDS="")
    assert code == 1
    assert "FAIL  Azure: management group mg-nowhere: subscriptions" in output
    assert "descendants/read" in output


async def test_the_identity_map_is_read_and_every_entry_looked_up(stack: Stack, tmp_path: Path) -> None:
    mapping = tmp_path / "identity-map.yaml"
    mapping.write_text("U0ENGINE01: alice@contoso.com\nU0ONCALL01: nobody@contoso.com\n", encoding="utf-8")
    code, output = await _doctor(stack, JITBOT_IDENTITY_MAP=str(mapping))
    assert code == 1
    assert "PASS  Settings: identity map" in output and "2 Slack users mapped" in output
    assert "FAIL  Microsoft Graph: identity map U0ONCALL01" in output and "nobody@contoso.com" in output

    mapping.write_text("alice: alice@contoso.com\n", encoding="utf-8")
    code, output = await _doctor(stack, JITBOT_IDENTITY_MAP=str(mapping))
    assert code == 1
    assert "FAIL  Settings: identity map" in output and f"{mapping}:1:" in output


async def test_a_rule_that_turns_the_check_on_makes_doctor_check_graph(stack: Stack, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: data\n    match: {resource_group: rg-data}\n    requester_rbac: enforce\n")

    code, output = await _doctor(stack, JITBOT_REQUESTER_RBAC="off", JITBOT_RULES_FILE=str(rules))

    assert code == 0, output
    assert "PASS  Microsoft Graph: User.Read.All granted" in output
