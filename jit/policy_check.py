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
    typed_source: str | None = None,
    break_glass: bool = False,
) -> tuple[PolicyPort, ...]:
    """Return the policy's rules for ``ports``; raise RequestRejected naming the first thing out of policy.

    The hint is the nearest request the policy accepts as a whole (every port, duration and source fixed at once),
    keeping ``typed_source`` (what the person typed; None when the default applied), the reason and
    ``--break-glass``; there is none when no request on this VM can pass."""

    def refuse(problem: str, *, about_duration: bool = False) -> RequestRejected:
        nearest = nearest_in_policy(policy, ports, duration, source, typed_source, extra_max)
        if nearest is None:
            return RequestRejected(f"{problem} No request on `{vm_label}` can pass its JIT policy as it stands.")
        usable, shortened, hint_source = nearest
        if shortened < duration and not about_duration:
            problem += f" For port {', '.join(map(str, usable))}, at most {humanize(shortened)}."
        return RequestRejected(
            problem, request_hint(usable, vm_label, shortened, hint_source, reason, break_glass=break_glass)
        )

    covered = sorted(p.number for p in policy.ports)
    missing = [p for p in ports if policy.port(p) is None]
    if missing:
        raise refuse(
            f"Port {', '.join(map(str, missing))} is not in the JIT policy of `{vm_label}` "
            f"(it allows {', '.join(map(str, covered))})."
        )
    rules = tuple(p for p in (policy.port(n) for n in ports) if p is not None)
    if duration < MIN_ACCESS:
        raise refuse("Access must be requested for at least 5 minutes.", about_duration=True)
    limit = _limit(policy, ports, extra_max)
    if duration > limit:
        raise refuse(
            f"{humanize(duration)} is longer than allowed for `{vm_label}` (at most {humanize(limit)}).",
            about_duration=True,
        )
    try:
        network = ipaddress.ip_network(source, strict=True)
    except ValueError:
        raise refuse(f"`{source}` is not an IP address or CIDR range.") from None
    for rule in rules:
        if not source_allowed(network, rule.allowed_sources):
            allowed = ", ".join(rule.allowed_sources)
            wide = network.prefixlen == 0
            raise refuse(
                f"Opening port {rule.number} to the whole internet ({source}) is not allowed by the policy."
                if wide
                else f"Source {source} is not allowed for port {rule.number} on `{vm_label}` (allowed: {allowed})."
            )
    return rules


def nearest_in_policy(
    policy: JitPolicy,
    ports: Sequence[int],
    duration: timedelta,
    source: str,
    typed_source: str | None,
    extra_max: timedelta | None = None,
) -> tuple[tuple[int, ...], timedelta, str | None] | None:
    """The ports, duration and source (None: the default applies) of the request nearest to this one that the
    policy accepts: the asked ports the policy covers (else its first port), the duration within every remaining
    port's maximum, and the source kept when every remaining port allows it, else one they all allow."""
    usable = tuple(p for p in ports if policy.port(p) is not None)
    if not usable:
        usable = tuple(sorted(p.number for p in policy.ports))[:1]
    if not usable:
        return None
    rules = [rule for rule in (policy.port(n) for n in usable) if rule is not None]
    limit = _limit(policy, usable, extra_max)
    if limit < MIN_ACCESS:
        return None
    within = min(max(duration, MIN_ACCESS), limit)
    if _allowed_by_all(source, rules):
        return usable, within, typed_source
    candidates = [a for rule in rules for a in rule.allowed_sources if a.strip() != ANY_SOURCE]
    fitting = next((a for a in candidates if _allowed_by_all(a, rules)), None)
    return None if fitting is None else (usable, within, fitting)


def tightest(*maxima: timedelta | None) -> timedelta | None:
    """The shortest of the maximum durations that are set (the rule's, jitbot's), or None when none is."""
    values = [v for v in maxima if v is not None]
    return min(values) if values else None


def _limit(policy: JitPolicy, ports: Sequence[int], extra_max: timedelta | None) -> timedelta:
    maxima = [rule.max_duration for rule in (policy.port(n) for n in ports) if rule is not None]
    if extra_max is not None:
        maxima.append(extra_max)
    return min(maxima) if maxima else MIN_ACCESS


def _allowed_by_all(source: str, rules: Sequence[PolicyPort]) -> bool:
    try:
        network = ipaddress.ip_network(source.strip(), strict=True)
    except ValueError:
        return False
    return all(source_allowed(network, rule.allowed_sources) for rule in rules)
