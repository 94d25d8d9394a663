"""Tokens as people type them: folded to plain ASCII for structure, cleaned for free text, quoted back safely.

Structural tokens (ports, VM names, durations, flags, subcommands) are NFKC-folded so fullwidth and
compatibility forms become their plain twin; whatever is still not ASCII is refused by the piece that parses
it. Free text (a reason, a help topic) keeps its characters, minus controls and bidi overrides that could
disguise it on a card.
"""

from __future__ import annotations

import re
import unicodedata

BREAK_GLASS_FLAG = "--break-glass"
BREAK_GLASS_SPELLINGS = frozenset({"--break-glass", "—break-glass", "–break-glass", "--breakglass"})
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def fold(token: str) -> str:
    """NFKC-normalise a structural token so fullwidth and compatibility forms become their plain ASCII twin."""
    return unicodedata.normalize("NFKC", token)


def clean_reason(text: str) -> str:
    """A free-text reason with control and bidi-override characters removed and whitespace collapsed."""
    return " ".join(clean_free_text(text).split())


def clean_free_text(text: str) -> str:
    """Free text as typed, minus control and bidi-override characters that could disguise it on a card."""
    cleaned = _BIDI_CONTROLS.sub("", text)
    return "".join(ch for ch in cleaned if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


def shown(token: str, limit: int = 40) -> str:
    """A user token quoted back in an error: shortened, with invisible characters made visible."""
    visible = "".join(
        f"[U+{ord(ch):04X}]" if unicodedata.category(ch) in ("Cf", "Cc", "Cs", "Zl", "Zp") else ch
        for ch in token[: limit * 2]
    ).replace("`", "'")
    if len(visible) > limit:
        visible = visible[: limit - 1] + "…"
    return f"`{visible}`" if visible else "that"
