"""The "from me" page as HTML: pure functions of what jitbot knows, every value escaped, and its headers.

The page is static HTML with one form and no script. The headers keep it out of caches and frames and keep
its address (which holds the token) out of ``Referer`` headers; the CSP allows only the page's own inline style
(by hash) and posting the form back to jitbot.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape

from bot.source_page.client_address import AddressKind
from jit.durations import humanize
from jit.store.source_links import LinkStatus, PendingSource

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d1c1d}"
    "dt{font-weight:600;margin-top:.6rem}dd{margin:0}.address{font-size:1.4rem;font-family:monospace}"
    ".note{background:#fff7e0;border-left:4px solid #e8a400;padding:.5rem .8rem}"
    "button{font-size:1rem;padding:.6rem 1.4rem;background:#007a5a;color:#fff;border:0;border-radius:4px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}
ADDRESS_NOTES = {
    AddressKind.PUBLIC_V4: "",
    AddressKind.CGNAT: (
        "This address is in 100.64.0.0/10, the range for carrier-grade NAT (mobile networks, some home "
        "providers) and some VPNs. It is shared and not routable on the internet: the VM may see you under "
        "another address. Confirm only if you reach the VM through the same network."
    ),
    AddressKind.IPV6: (
        "You are connected over IPv6. The port opens to this IPv6 address only: if you then connect to the VM "
        "over IPv4, it will not match. Confirm only if the VM is reachable from you over IPv6."
    ),
    AddressKind.PRIVATE: (
        "This is a private or reserved address: jitbot sees you on an internal network (a VPN, an office "
        "network, or this machine). It works only if you reach the VM through the same network."
    ),
}
NOT_OPEN = {
    LinkStatus.USED: ("This link was already used", "Each link works once. Check Slack for your request's status."),
    LinkStatus.EXPIRED: (
        "This link has expired",
        "Links work for a few minutes only. Type the `/jit … from me` command again for a new one.",
    ),
    LinkStatus.UNKNOWN: (
        "This link is not valid",
        "It may be mistyped or very old. Type the `/jit … from me` command again for a new one.",
    ),
}


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · jitbot</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _what(pending: PendingSource) -> str:
    draft = pending.draft
    rows = [
        ("Whose request", f"{pending.requester_name} ({draft.requester})"),
        ("VM", draft.vm),
        ("Ports", ", ".join(str(port) for port in draft.ports)),
        ("For how long", f"{humanize(draft.duration)}, from when an approver approves"),
    ]
    if draft.reason:
        rows.append(("Reason", draft.reason))
    if draft.break_glass:
        rows.append(("Break-glass", "yes: announced to approvers and on-call, reviewed later"))
    items = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in rows)
    return f"<dl>{items}</dl>"


def confirm_page(pending: PendingSource, token: str, address: str, kind: AddressKind, confirm_action: str) -> str:
    """What will happen and the address jitbot sees, with the one button that confirms (a POST of the token)."""
    note = ADDRESS_NOTES[kind]
    note_html = f'<p class="note">{escape(note)}</p>' if note else ""
    body = (
        "<p>Confirm to ask for JIT access from the address you are on now. Nothing has happened yet.</p>"
        f"{_what(pending)}"
        f'<p>jitbot sees you at</p><p class="address">{escape(address)}</p>{note_html}'
        "<p>When you confirm, the address the confirmation comes from becomes the request's source, and "
        "approvers are asked in Slack as usual. The port opens only to that address.</p>"
        f'<form method="post" action="{escape(confirm_action)}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Confirm</button></form>'
        f"<p>This link works once, until {escape(_utc(pending.expires_at))}. If you did not ask for this, "
        "close the page: nothing happens.</p>"
    )
    return _document("Confirm your address", body)


def not_open_page(status: LinkStatus) -> str:
    """A used, expired or unknown link: what happened and what to do."""
    title, advice = NOT_OPEN[status]
    return _document(title, f"<p>{escape(advice)}</p>")


def no_address_page() -> str:
    """jitbot cannot tell the visitor's address (a trusted proxy named nobody, or named garbage)."""
    return _document(
        "jitbot cannot tell your address",
        "<p>The request reached jitbot through a proxy that did not say whose it was. Nothing was done. "
        "Type <code>/jit … from &lt;your-ip&gt;</code> instead, and tell your jitbot admin "
        "(JITBOT_TRUSTED_PROXIES).</p>",
    )


def done_page(address: str, outcome: str) -> str:
    """After the confirmation: the address used and the outcome (the same words jitbot posts in Slack)."""
    return _document(
        "Confirmed",
        f'<p>Your request was made from</p><p class="address">{escape(address)}</p>'
        f"<p>{escape(outcome)}</p><p>Slack has the details; you can close this page.</p>",
    )


def refused_page(address: str, problem: str) -> str:
    """The confirmation counted, but the request was refused by the same checks as a typed one."""
    return _document(
        "The request was not accepted",
        f'<p>From</p><p class="address">{escape(address)}</p><p>{escape(problem)}</p>'
        "<p>Slack has the details and an example to try.</p>",
    )


def _utc(when: datetime) -> str:
    return when.strftime("%H:%M UTC")
