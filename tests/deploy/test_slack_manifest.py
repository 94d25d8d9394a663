"""The Slack manifests declare exactly the scopes the code needs, the /jit command, interactivity and App Home."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.scopes import METHOD_SCOPES, scopes_for
from sandbox.slack_workspace import DEFAULT_BOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = {
    "http": ROOT / "deploy" / "slack-app-manifest.yaml",
    "socket": ROOT / "deploy" / "slack-app-manifest.socket.yaml",
}
_NAMED_CALL = re.compile(r"\.(?:api_call|_call)\(\s*\"([a-z]+\.[A-Za-z.]+)\"", re.DOTALL)
_SDK_CALL = re.compile(
    r"\b(auth|chat|conversations|files|users|usergroups|views|team|reactions|apps|bots)_([A-Za-z0-9_]+)\("
)
SDK_HELPERS = {"files.upload.v2": {"files.getUploadURLExternal", "files.completeUploadExternal"}}
"""slack_sdk methods that call several Web API methods: ``files_upload_v2`` is Slack's three-step upload."""


def web_api_methods_in_code() -> set[str]:
    """Every Slack Web API method that bot/ calls, by slack_sdk method name or by api_call name."""
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(_NAMED_CALL.findall(text))
        found.update(f"{family}.{rest.replace('_', '.')}" for family, rest in _SDK_CALL.findall(text))
    for helper, methods in SDK_HELPERS.items():
        if helper in found:
            found = (found - {helper}) | methods
    return found


def _manifest(kind: str) -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFESTS[kind].read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_scanner_finds_the_methods_the_bot_is_known_to_call() -> None:
    assert {
        "chat.postMessage",
        "chat.update",
        "conversations.open",
        "usergroups.users.list",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    } <= web_api_methods_in_code()


def test_the_scope_table_lists_exactly_the_methods_the_code_calls() -> None:
    called = web_api_methods_in_code()
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add these methods to bot/scopes.py METHOD_SCOPES: {sorted(unknown)}"
    unused = set(METHOD_SCOPES) - called
    assert not unused, f"nothing calls these; remove them from bot/scopes.py METHOD_SCOPES: {sorted(unused)}"


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_manifest_scopes_are_exactly_what_the_code_needs(kind: str) -> None:
    declared = set(_manifest(kind)["oauth_config"]["scopes"]["bot"])
    needed = set(scopes_for(web_api_methods_in_code()))
    assert declared - needed == set(), "declared but unused"
    assert needed - declared == set(), "used but not declared"


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_manifest_has_the_command_interactivity_and_home(kind: str) -> None:
    manifest = _manifest(kind)
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == ["/jit"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["settings"]["socket_mode_enabled"] is (kind == "socket")


def test_http_manifest_points_every_url_at_the_events_route() -> None:
    manifest = _manifest("http")
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["interactivity"]["request_url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_the_slack_emulators_default_app_has_exactly_the_manifests_scopes(kind: str) -> None:
    assert set(DEFAULT_BOT_SCOPES) == set(_manifest(kind)["oauth_config"]["scopes"]["bot"])
