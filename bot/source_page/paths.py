"""Where the "from me" page lives under jitbot's public address."""

from __future__ import annotations

PAGE_PREFIX = "/from-me"
CONFIRM_PATH = f"{PAGE_PREFIX}/confirm"


def page_url(public_url: str, token: str) -> str:
    """The link the requester opens (``JITBOT_PUBLIC_URL`` + ``/from-me/<token>``)."""
    return f"{public_url}{PAGE_PREFIX}/{token}"


def plausible_token(token: str) -> bool:
    """A token as jitbot makes them (URL-safe base64 of 32 bytes), so nothing else reaches Redis."""
    return 32 <= len(token) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)
