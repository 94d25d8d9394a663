"""Very wide sources: a prefix wider than the configured threshold is flagged to approvers and to the requester,
and refused where a rule says ``refuse_wide_sources: true``.

A policy that allows any source (``*``) lets a requester ask for ``0.0.0.0/1`` — half the internet — which is not
"any address" but hardly narrower. The thresholds (``JITBOT_WIDE_PREFIX_V4``, default ``/16``: 65,536 addresses;
``JITBOT_WIDE_PREFIX_V6``, default ``/48``: one site's usual allocation, so anything wider spans several sites or
a provider's range) say what counts as wide; a source is wide when its prefix is **shorter** than the threshold of
its family. The verdict is stored with the request (``extra["wide_source"]`` holds the threshold it exceeded),
so the card and every later message show what applied when the request was made.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from jit.errors import RequestRejected
from jit.hints import RequestHint, request_hint
from jit.ports import AuditRecorder
from jit.request_extras import Extra
from jit.routing import Route

REFUSED_EVENT = "wide_source_refused"


@dataclass(frozen=True)
class WidePrefixes:
    """The shortest prefix length that is not yet wide, per address family."""

    ipv4: int = 16
    ipv6: int = 48

    def threshold(self, source: str) -> int | None:
        """The threshold ``source`` exceeds (it is wider), or None when it is not wide or not a network."""
        try:
            network = ipaddress.ip_network(source, strict=False)
        except ValueError:
            return None
        limit = self.ipv4 if network.version == 4 else self.ipv6
        return limit if network.prefixlen < limit else None


def wide_source_extra(source: str, limits: WidePrefixes) -> dict[str, str]:
    """What a request stores about its source: the threshold it exceeded, when it is wide."""
    limit = limits.threshold(source)
    return {} if limit is None else {Extra.WIDE_SOURCE.value: str(limit)}


async def refuse_wide_source(
    audit: AuditRecorder,
    limits: WidePrefixes,
    route: Route,
    *,
    requester: str,
    vm_label: str,
    source: str,
    ports: Sequence[int],
    duration: timedelta,
    reason: str,
    suggestion: str,
    break_glass: bool = False,
) -> None:
    """Raise RequestRejected (audited as ``wide_source_refused``) when the route refuses wide sources and
    ``source`` is one; ``suggestion`` is a narrower source for the suggested request."""
    refusal = wide_source_refusal(
        limits,
        route,
        vm_label=vm_label,
        source=source,
        asked=request_hint(ports, vm_label, duration, source, reason, break_glass),
        suggestion=suggestion,
    )
    if refusal is None:
        return
    await audit(
        REFUSED_EVENT,
        actor=requester,
        request_id=None,
        detail={"vm": vm_label, "source": source, "rule": route.name, "wider_than": f"/{limits.threshold(source)}"},
    )
    raise refusal


def wide_source_refusal(
    limits: WidePrefixes, route: Route, *, vm_label: str, source: str, asked: RequestHint, suggestion: str
) -> RequestRejected | None:
    """The refusal of a wide ``source`` where ``route`` refuses them (None when it may go ahead); its hint is
    ``asked`` from ``suggestion`` when that is narrow enough."""
    limit = limits.threshold(source)
    if not route.refuse_wide_sources or limit is None:
        return None
    narrower = suggestion if limits.threshold(suggestion) is None else None
    return RequestRejected(
        f"`{source}` is wider than /{limit} ({addresses(source)} addresses), and rule `{route.name}` refuses wide "
        f"sources for `{vm_label}`. Ask for the address or range you connect from.",
        replace(asked, source=narrower or "203.0.113.7"),
    )


def addresses(source: str) -> str:
    """How many addresses a source spans, with thousands separators (``2,147,483,648``)."""
    return f"{ipaddress.ip_network(source, strict=False).num_addresses:,}"
