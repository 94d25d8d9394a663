"""Every Redis key jitbot uses, in one place.

All keys start with ``<prefix>:{jit}:``. The ``{jit}`` hash tag puts every key in one Redis Cluster slot,
so each multi-key atomic step (a Lua script, which receives every key it touches in ``KEYS``) is legal on
Cluster as well as on a single server or Sentinel. jitbot's data is small (requests, an audit stream, a
schedule), so one slot, and so one shard, is no limit. The prefix is configurable so tests and benchmarks
can share a server without seeing each other's keys.

Layout (``P`` = ``<prefix>:{jit}:``):

==============================  ======  =============================================================
key                             type    holds
==============================  ======  =============================================================
``P req:<id>``                  hash    one AccessRequest (see ``codec``); terminal ones expire after
                                        the retention period
``P user:<user>:state:<state>`` zset    that user's request ids in that state, scored by when they
                                        entered it (epoch seconds); the pending cap is its ZCARD
``P state:<state>``             zset    every request id in that state, scored the same way
``P dedupe:<digest>``           string  request id of the last request made with that requester and
                                        dedupe key (the digest is a SHA-256 of both)
``P audit``                     stream  the audit trail, one entry per event, ids follow the clock
``P schedule``                  zset    due items (``remind:<id>`` …) scored by due epoch seconds
``P schedule:claims``           hash    item -> claim token of the worker holding its lease
``P schedule:attempts``         hash    item -> how many times it was claimed since scheduled
``P done:<item>``               string  sent-marker: the notification for that item went out
``P rate:<user>``               zset    that user's command times in the last minute
``P rate:<kind>:<user>``        zset    the same for another kind of action (``interactions``: clicks
                                        and modal submissions), counted apart from commands
``P seen:<digest>``             string  a Slack request signature already accepted (replay guard)
``P refused:<why>``             hash    refused unauthenticated requests of one reason: the current
                                        minute, its start and how many (``refusals``); one per reason
``P home:seen``                 set     users who opened the App Home tab (they get refreshes)
``P policy_denied``             hash    lower-cased VM id -> JSON of the Azure Policy refusal of JIT on
                                        it (see ``policy_denials``); the key expires a while after the
                                        last refusal, each entry is ignored once older than that
``P once:<name>``               string  a value written once and kept (when jitbot first synced with
                                        Azure: older history entries are not news)
``P source_link:<digest>``      hash    a one-time "from me" link, by the SHA-256 of its token: the
                                        request waiting for its source, its expiry, and once used when
                                        and from where (see ``source_links``); expires a while after it
``P lock:<digest>``             string  the holder's token of a lease lock (see ``locks``) on one shared
                                        Azure object: a VM's ports, or a policy document; expires with
                                        its lease
==============================  ======  =============================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from jit.model import RequestState

HASH_TAG = "{jit}"
DEFAULT_PREFIX = "jitbot"


@dataclass(frozen=True)
class Keys:
    """Builds key names for one prefix; pure, so the layout is testable and documented in one place."""

    prefix: str = DEFAULT_PREFIX

    @property
    def base(self) -> str:
        """``<prefix>:{jit}:``: the start of every key."""
        return f"{self.prefix}:{HASH_TAG}:"

    def request(self, request_id: str) -> str:
        """The hash holding one request."""
        return f"{self.base}req:{request_id}"

    def user_state(self, user_id: str, state: RequestState) -> str:
        """One user's requests in one state."""
        return f"{self.base}user:{user_id}:state:{state.value}"

    def state(self, state: RequestState) -> str:
        """Every request in one state."""
        return f"{self.base}state:{state.value}"

    def dedupe(self, requester: str, dedupe_key: str) -> str:
        """Where a repeated command finds the request it already made; hashed to bound the key length."""
        digest = hashlib.sha256(f"{requester}\0{dedupe_key}".encode()).hexdigest()[:40]
        return f"{self.base}dedupe:{digest}"

    @property
    def audit(self) -> str:
        """The audit stream."""
        return f"{self.base}audit"

    @property
    def schedule(self) -> str:
        """The sorted set of due items."""
        return f"{self.base}schedule"

    @property
    def claims(self) -> str:
        """Claim tokens of leased schedule items."""
        return f"{self.base}schedule:claims"

    @property
    def attempts(self) -> str:
        """Delivery attempts of schedule items."""
        return f"{self.base}schedule:attempts"

    def done(self, item: str) -> str:
        """Sent-marker of one notification."""
        return f"{self.base}done:{item}"

    def rate(self, user_id: str, kind: str = "") -> str:
        """One user's recent command times, or of another ``kind`` of action (user ids never contain ``:``)."""
        return f"{self.base}rate:{kind + ':' if kind else ''}{user_id}"

    def seen_signature(self, signature: str) -> str:
        """Marks a Slack request signature as used; hashed to bound the key length."""
        return f"{self.base}seen:{hashlib.sha256(signature.encode()).hexdigest()[:40]}"

    def refusals(self, why: str) -> str:
        """The tally of refused unauthenticated requests for one reason (a fixed, small set)."""
        return f"{self.base}refused:{why}"

    @property
    def home_seen(self) -> str:
        """The users whose App Home is kept fresh."""
        return f"{self.base}home:seen"

    @property
    def policy_denied(self) -> str:
        """VMs Azure Policy refused JIT on."""
        return f"{self.base}policy_denied"

    def once(self, name: str) -> str:
        """A value written once and kept."""
        return f"{self.base}once:{name}"

    def lock(self, name: str) -> str:
        """A lease lock on one shared Azure object; the name is hashed to bound the key length."""
        return f"{self.base}lock:{hashlib.sha256(name.lower().encode()).hexdigest()[:40]}"

    def source_link(self, digest: str) -> str:
        """A one-time "from me" link, by the SHA-256 of its token (the token itself is never stored)."""
        return f"{self.base}source_link:{digest}"
