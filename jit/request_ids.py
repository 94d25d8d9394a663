"""Request ids: short, unguessable, and safe in URLs, Slack button values and commands."""

from __future__ import annotations

import secrets

REQUEST_ID_PREFIX = "jr-"


def new_request_id() -> str:
    """A new id: ``jr-`` + 72 random bits."""
    return REQUEST_ID_PREFIX + secrets.token_urlsafe(9)
