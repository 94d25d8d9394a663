"""The body Bolt is given: Slack's form body, spelled so that Bolt reads the same fields Slack sent.

Bolt decides that a form body is an interactive payload when the text ``payload`` appears anywhere in it, not
only as the ``payload`` field; a slash command whose text contains the word (``/jit ssh web-01 1h fixing the
payload parser``) then parses as an empty body and is answered 404, so Slack shows "dispatch_failed". The rule
here: a form body without a ``payload`` field has every ``payload`` inside its values written as
``p%61yload``, which decodes to the same text; every other body is passed on unchanged.
"""

from __future__ import annotations

from urllib.parse import parse_qs

_WORD = "payload"
_SAME_WORD_ENCODED = "p%61yload"


def body_for_bolt(body: str, content_type: str) -> str:
    """``body`` with the same fields and values, which Bolt parses as the fields Slack sent."""
    if _WORD not in body or not content_type.startswith("application/x-www-form-urlencoded"):
        return body
    if _WORD in parse_qs(body, keep_blank_values=True):
        return body
    return body.replace(_WORD, _SAME_WORD_ENCODED)
