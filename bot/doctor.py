"""`jitbot doctor`: check every setting and dependency, print a table, exit non-zero on any failure."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from redis.asyncio.cluster import RedisCluster
from redis.credentials import CredentialProvider
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import build_slack_client, diagnose_azure, redis_credentials
from bot.scopes import required_scopes
from jit.checks import Check, Verdict
from jit.identity_map import identity_map_checks
from jit.redis_connect import RedisClient, connect_redis
from jit.rules import groups_named, rules_checks
from jit.settings import Settings, SettingsError, load_environment

_MARK = {Verdict.PASS: "PASS", Verdict.WARN: "WARN", Verdict.FAIL: "FAIL"}


async def run_doctor(
    environ: Mapping[str, str] | None = None, *, out: TextIO | None = None, connection_verify: str | None = None
) -> int:
    """Run every check and print the table; returns 0 when nothing failed, 1 otherwise."""
    stream = out or sys.stdout
    try:
        settings = Settings.from_env(load_environment(environ))
    except SettingsError as exc:
        checks = [
            Check.failed("Settings", "environment", problem, "Fix it in the environment or .env (see .env.example).")
            for problem in exc.problems
        ]
        print_table(checks, stream)
        return 1
    checks = [Check.passed("Settings", "environment", "every required variable is set and valid")]
    checks += rules_checks(settings)
    checks += identity_map_checks(settings.identity_map)
    checks += await slack_checks(settings)
    async with redis_credentials(settings) as credentials:
        checks += await redis_checks(settings.redis_url, credentials)
    checks += await azure_checks(settings, connection_verify)
    print_table(checks, stream)
    return 1 if any(c.verdict is Verdict.FAIL for c in checks) else 0


def print_table(checks: list[Check], out: TextIO) -> None:
    """One line per check, then how to fix each failure and warning."""
    width = max((len(f"{c.area}: {c.name}") for c in checks), default=10)
    for check in checks:
        label = f"{check.area}: {check.name}"
        out.write(f"{_MARK[check.verdict]}  {label.ljust(width)}  {check.detail}\n")
    problems = [c for c in checks if c.verdict is not Verdict.PASS]
    if problems:
        out.write("\nHow to fix:\n")
        for check in problems:
            out.write(f"- {check.area}: {check.name}: {check.fix}\n")
    failed = sum(c.verdict is Verdict.FAIL for c in checks)
    out.write(f"\n{len(checks) - failed} passed, {failed} failed\n" if failed else "\nAll checks passed.\n")


async def slack_checks(settings: Settings) -> list[Check]:
    """Token valid with every scope; the bot is in its channels; the approver and admin groups exist."""
    client = build_slack_client(settings)
    try:
        return await _slack_checks(client, settings)
    finally:
        session = getattr(client, "session", None)
        if session is not None and not session.closed:
            await session.close()


async def _slack_checks(client: AsyncWebClient, settings: Settings) -> list[Check]:
    area = "Slack"
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown")
        return [
            Check.failed(
                area,
                "bot token valid (auth.test)",
                str(error),
                "Reinstall the app to the workspace and copy the Bot User OAuth Token into SLACK_BOT_TOKEN.",
            )
        ]
    except Exception as exc:
        return [
            Check.failed(
                area,
                "Slack reachable",
                type(exc).__name__,
                f"Check network access to {settings.slack_api_url} (proxy, firewall).",
            )
        ]
    checks = [Check.passed(area, "bot token valid (auth.test)", f"team {auth.get('team', '?')}")]
    granted = {s.strip() for s in _header(auth.headers, "x-oauth-scopes").split(",") if s.strip()}
    missing = sorted(required_scopes() - granted)
    if missing:
        checks.append(
            Check.failed(
                area,
                "bot scopes",
                "missing " + ", ".join(missing),
                "Add the scopes (deploy/slack-app-manifest.yaml lists them) and reinstall the app.",
            )
        )
    else:
        checks.append(Check.passed(area, "bot scopes", "all present"))
    channels = [("approval channel", settings.approval_channel)]
    if settings.oncall_channel:
        channels.append(("on-call channel", settings.oncall_channel))
    if settings.review_channel:
        channels.append(("review channel", settings.review_channel))
    for label, channel in channels:
        checks.append(await _channel_check(client, label, channel))
    for group, places in groups_named(settings).items():
        checks.append(await _group_check(client, group, places))
    return checks


async def _channel_check(client: AsyncWebClient, label: str, channel: str) -> Check:
    name = f"bot is in the {label} {channel}"
    try:
        info = await client.conversations_info(channel=channel)
    except SlackApiError as exc:
        return Check.failed(
            "Slack",
            name,
            str(exc.response.get("error", "unknown")),
            "Check the channel id (channel details > About) and invite the bot: /invite @jitbot.",
        )
    if not (info.get("channel") or {}).get("is_member"):
        return Check.failed("Slack", name, "not a member", f"Invite the bot: /invite @jitbot in <#{channel}>.")
    return Check.passed("Slack", name, "member")


async def _group_check(client: AsyncWebClient, group: str, places: list[str]) -> Check:
    """The group can be read as jitbot reads it at runtime (``usergroups.users.list``).

    A group that cannot be read counts as empty where it grants something and stops automatic approval where it
    denies something: either way the configuration does not do what it says.
    """
    name = f"user group {group} exists"
    where = "named in " + ", ".join(places)
    try:
        members = await client.usergroups_users_list(usergroup=group)
    except SlackApiError as exc:
        return Check.failed(
            "Slack",
            name,
            f"{exc.response.get('error', 'unknown')} ({where})",
            f"Correct or remove {group} where it is named (Slack > People > User groups shows the ids); while it "
            "cannot be read nobody gains rights through it, and a deny list naming it stops automatic approval.",
        )
    return Check.passed("Slack", name, f"{len(members.get('users') or [])} members ({where})")


def _header(headers: Any, name: str) -> str:
    for key, value in (headers or {}).items():
        if str(key).lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return ""


async def redis_checks(url: str, credential_provider: CredentialProvider | None = None) -> list[Check]:
    """Redis answers (signing in as the bot does: with an Entra ID token when ``credential_provider`` is given), and
    keeps data across restarts (warn when AOF and RDB are both off, on any cluster node)."""
    area = "Redis"
    client: RedisClient | None = None
    try:
        client = connect_redis(url, socket_timeout=3, credential_provider=credential_provider)
        await client.ping()
    except Exception as exc:
        if client is not None:
            await client.aclose()
        return [
            Check.failed(
                area, "reachable", type(exc).__name__, "Check REDIS_URL, that Redis runs, and network/TLS settings."
            )
        ]
    checks = [Check.passed(area, "reachable", "PING ok")]
    try:
        nodes = await _persistence(client)
        volatile = sorted(name for name, (aof, rdb) in nodes.items() if not (aof or rdb))
        if not volatile:
            if isinstance(client, RedisCluster):
                detail = f"AOF or RDB on all {len(nodes)} cluster nodes"
            else:
                detail = "AOF on" if any(aof for aof, _ in nodes.values()) else "RDB snapshots on"
            checks.append(Check.passed(area, "persistent", detail))
        else:
            where = f" on {', '.join(volatile)}" if isinstance(client, RedisCluster) else ""
            checks.append(
                Check.warned(
                    area,
                    "persistent",
                    f"AOF and RDB are both off{where}: a Redis restart loses pending requests and the schedule",
                    "Turn on appendonly yes (AOF), or use a managed Redis with persistence.",
                )
            )
    except Exception as exc:
        checks.append(
            Check.warned(area, "persistent", f"cannot tell ({type(exc).__name__})", "Check persistence by hand.")
        )
    finally:
        await client.aclose()
    return checks


async def _persistence(client: RedisClient) -> dict[str, tuple[bool, bool]]:
    """(AOF on, RDB on) per server: the one server, or every node of a cluster (INFO and CONFIG are per node)."""
    if isinstance(client, RedisCluster):
        infos = await client.info("persistence", target_nodes=RedisCluster.ALL_NODES)
        saves = await _config_save(client, target_nodes=RedisCluster.ALL_NODES)
        return {node: (_aof(info), bool(saves.get(node))) for node, info in infos.items()}
    info = await client.info("persistence")
    saves = await _config_save(client)
    return {"": (_aof(info), bool(saves.get("")))}


def _aof(info: Any) -> bool:
    return bool(int(info.get("aof_enabled", 0)))


async def _config_save(client: RedisClient, **target: Any) -> dict[str, str]:
    """``CONFIG GET save`` per node ("" for one server); managed caches often refuse CONFIG: read as off."""
    try:
        reply: Any = await client.config_get("save", **target)
    except Exception:
        return {}
    if target:
        return {node: str(value.get("save", "")).strip() for node, value in reply.items()}
    return {"": str(reply.get("save", "")).strip()}


async def azure_checks(settings: Settings, connection_verify: str | None) -> list[Check]:
    """The credential gets a token; each subscription's VMs and JIT policies are readable; Defender is on; and,
    unless JITBOT_REQUESTER_RBAC is off, Microsoft Graph lets jitbot look people up (``bot.runtime``)."""
    return await diagnose_azure(settings, connection_verify)
