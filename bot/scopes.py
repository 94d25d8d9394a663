"""Which Slack bot scopes jitbot needs: the methods it calls, and the scopes each of those needs.

``METHOD_SCOPES`` lists exactly the Web API methods the code in ``bot/`` calls (a test scans the code and keeps
the two equal); the manifests, `jitbot doctor` and the Slack emulator's default app all derive their scopes from
it, so an app installed exactly from ``deploy/slack-app-manifest.yaml`` has every scope doctor asks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

METHOD_SCOPES: Mapping[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "conversations.open": frozenset({"im:write"}),
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read", "users:read.email"}),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.push": frozenset(),
    "views.publish": frozenset(),
}
"""Each method jitbot calls, with the bot scopes Slack requires for it (conversations.info: public and private
channels; users.info: ``users:read.email`` for the email that links a person to their Entra ID account; the two
files methods are what slack_sdk's ``files_upload_v2`` calls for the access review's chart and CSV)."""

SLASH_COMMAND_SCOPE = "commands"


def scopes_for(methods: Iterable[str]) -> frozenset[str]:
    """Every scope the given methods need, plus ``commands`` for /jit."""
    needed = {SLASH_COMMAND_SCOPE}
    for method in methods:
        needed |= METHOD_SCOPES[method]
    return frozenset(needed)


def required_scopes() -> frozenset[str]:
    """The scopes jitbot needs for everything it does: exactly what the manifests grant."""
    return scopes_for(METHOD_SCOPES)
