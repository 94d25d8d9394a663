"""Opening access "from me": a one-time link, and the address that confirms it becomes the request's source.

The requester asks with ``from me``; jitbot cannot see their address from Slack, so it hands them a link
(``issue``) to a page served by jitbot itself. Looking at the page (``look``) changes nothing: link previews and
unfurlers fetch it too. Confirming it (``confirm``) uses the link, once, within ``LINK_LIFETIME``, and the address
the confirmation came from is the source of an ordinary request, checked like a typed ``from <ip>``. Each step is
in the audit trail: the link issued, confirmed (with the address) or refused (used, expired, no address). Unknown
tokens have no requester to name: they are counted in the aggregated refusal tally, so guessing cannot grow Redis.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

from jit.clock import Clock
from jit.ports.audit import AuditRecorder
from jit.results import RequestDraft
from jit.store.refusals import RefusalTally
from jit.store.source_links import LinkLookup, LinkStatus, PendingSource, SourceLinks

LINK_LIFETIME = timedelta(minutes=10)
UNKNOWN_LINK = "unknown_source_link"


class SourceConfirmations:
    """Issues, shows and confirms one-time "from me" links (see the module for the rules)."""

    def __init__(
        self,
        links: SourceLinks,
        record: AuditRecorder,
        tally: RefusalTally,
        clock: Clock,
        lifetime: timedelta = LINK_LIFETIME,
    ):
        self.links = links
        self.record = record
        self.tally = tally
        self.clock = clock
        self.lifetime = lifetime

    async def issue(self, draft: RequestDraft, *, requester_name: str, reply_channel: str) -> tuple[str, PendingSource]:
        """A new link for ``draft`` (its source is ignored); returns the token, which only the requester sees."""
        now = self.clock.now()
        pending = PendingSource(replace(draft, source=None), requester_name, reply_channel, now + self.lifetime)
        token = secrets.token_urlsafe(32)
        await self.links.save(token, pending, now)
        await self.record("source_link_issued", actor=draft.requester, request_id=None, detail=_describe(pending))
        return token, pending

    async def look(self, token: str) -> LinkLookup:
        """Where the link stands, without using it."""
        return await self.links.look(token, self.clock.now())

    async def confirm(self, token: str, address: str) -> LinkLookup:
        """Use the link from ``address``; VALID once, and then the caller submits ``draft_from(...)``."""
        lookup = await self.links.use(token, self.clock.now(), address)
        if lookup.pending is None:
            await self.tally.count(UNKNOWN_LINK, 1, {"peer": address[:64], "path": "/from-me"})
            return lookup
        if lookup.status is LinkStatus.VALID:
            detail = {**_describe(lookup.pending), "address": address}
            await self.record(
                "source_link_confirmed", actor=lookup.pending.draft.requester, request_id=None, detail=detail
            )
        else:
            await self.refused(lookup.pending, lookup.status.value, address)
        return lookup

    async def refused(self, pending: PendingSource, why: str, address: str | None) -> None:
        """Audit a confirmation that did not count (``why``: used, expired, no address …)."""
        detail = {**_describe(pending), "why": why, "address": address or "unknown"}
        await self.record("source_link_refused", actor=pending.draft.requester, request_id=None, detail=detail)


def draft_from(pending: PendingSource, address: str) -> RequestDraft:
    """The request the confirmation makes: what was asked, from ``address``."""
    return replace(pending.draft, source=address)


def _describe(pending: PendingSource) -> dict[str, str]:
    draft = pending.draft
    return {
        "vm": draft.vm,
        "ports": ",".join(str(port) for port in draft.ports),
        "duration_s": str(int(draft.duration.total_seconds())),
        "expires_at": pending.expires_at.isoformat(),
    }
