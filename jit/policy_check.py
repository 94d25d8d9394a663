"""Checks a request against the VM's JIT policy before anyone is asked to approve it.

Azure would refuse an out-of-policy initiate with "is not a subset of policy"; catching it here means an
out-of-policy request never reaches the approval channel, and the requester learns what would work.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import timedelta

from jit.durations import humanize
from jit.errors import RequestRejected
from jit.hints import request_hint
from jit.model import ANY_SOURCE, MIN_ACCESS, JitPolicy, PolicyPort

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def source_allowed(source: IpNetwork, allowed: Sequence[str]) -> bool:
    """True when ``source`` lies inside one of the policy's allowed prefixes (``*`` allows any source)."""
    for prefix in allowed:
        if prefix.strip() == ANY_SOURCE:
            return True
        try:
            network = ipaddress.ip_network(prefix.strip(), strict=False)
        except ValueError:
            continue
        if network.version == source.version and source.subnet_of(network):  # type: ignore[arg-type]
            return True
    return False


def check_against_policy(
    policy: JitPolicy,
    *,
    vm_label: str,
    ports: Sequence[int],
    duration: timedelta,
    source: str,
    reason: str,
    extra_max: timedelta | None = None,
) -> tuple[PolicyPort, ...]:
    """Return the policy's rules for ``ports``; raise RequestRejected naming the first thing out of policy."""
    covered = sorted(p.number for p in policy.ports)
    missing = [p for p in ports if policy.port(p) is None]
    if missing:
        usable = [p for p in ports if policy.port(p) is not None] or covered[:1]
        raise RequestRejected(
            f"Port {', '.join(map(str, missing))} is not in the JIT policy of `{vm_label}` "
            f"(it allows {', '.join(map(str, covered))}).",
            request_hint(usable, vm_label, duration, None, reason),
        )
    rules = tuple(p for p in (policy.port(n) for n in ports) if p is not None)
    if duration < MIN_ACCESS:
        raise RequestRejected(
            "Access must be requested for at least 5 minutes.",
            request_hint(ports, vm_label, MIN_ACCESS, None, reason),
        )
    limit = min(rule.max_duration for rule in rules)
    if extra_max is not None and extra_max < limit:
        limit = extra_max
    if duration > limit:
        raise RequestRejected(
            f"{humanize(duration)} is longer than allowed for `{vm_label}` (at most {humanize(limit)}).",
            request_hint(ports, vm_label, limit, None, reason),
        )
    try:
        network = ipaddress.ip_network(source, strict=True)
    except ValueError:
        raise RequestRejected(
            f"`{source}` is not an IP address or CIDR range.",
            request_hint(ports, vm_label, duration, "203.0.113.7", reason),
        ) from None
    for rule in rules:
        if not source_allowed(network, rule.allowed_sources):
            allowed = ", ".join(rule.allowed_sources)
            wide = network.prefixlen == 0
            problem = (
                f"Opening port {rule.number} to the whole internet ({source}) is not allowed by the policy."
                if wide
                else f"Source {source} is not allowed for port {rule.number} on `{vm_label}` (allowed: {allowed})."
            )
            suggestion = next((a for a in rule.allowed_sources if a != ANY_SOURCE), None)
            raise RequestRejected(problem, request_hint(ports, vm_label, duration, suggestion, reason))
    return rules
