"""Which Slack bot scopes each Web API method needs: the source for the manifest check and `jitbot doctor`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

METHOD_SCOPES: Mapping[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "conversations.open": frozenset({"im:write"}),
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "users.info": frozenset({"users:read"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "usergroups.list": frozenset({"usergroups:read"}),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.push": frozenset(),
    "views.publish": frozenset(),
}
SLASH_COMMAND_SCOPE = "commands"


def scopes_for(methods: Iterable[str]) -> frozenset[str]:
    """Every scope the given methods need, plus ``commands`` for /jit."""
    needed = {SLASH_COMMAND_SCOPE}
    for method in methods:
        needed |= METHOD_SCOPES[method]
    return frozenset(needed)


def required_scopes() -> frozenset[str]:
    """The scopes jitbot needs for everything it does."""
    return scopes_for(METHOD_SCOPES)
