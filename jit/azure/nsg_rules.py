"""Which NSG rules are JIT's allow rules for a VM: JIT names no owner in its rules, so they are recognised by
name, direction, source, ports and the VM's own addresses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jit.holdings import same_network

JIT_RULE_PREFIX = "securitycenter-jitrule"


def _rule_ports(props: Mapping[str, Any]) -> set[str]:
    ranges = props.get("destinationPortRanges") or []
    single = props.get("destinationPortRange")
    return {str(r) for r in [*ranges, *([single] if single else [])]}


def is_jit_allow_rule(rule: Mapping[str, Any], ports: set[int], source: str, vm_ips: Sequence[str]) -> bool:
    """Whether ``rule`` is an allow rule JIT opened on this VM for these ports and source (and nothing else).

    JIT names no owner in its rules, and one NSG often guards a whole subnet, so the destination must be one of
    this VM's own addresses: a rule for any address (or for a neighbour) is never taken for this VM's.
    """
    props = rule.get("properties") or {}
    if not str(rule.get("name", "")).lower().startswith(JIT_RULE_PREFIX):
        return False
    if str(props.get("access", "")).lower() != "allow" or str(props.get("direction", "")).lower() != "inbound":
        return False
    sources = [
        *(props.get("sourceAddressPrefixes") or []),
        *([props["sourceAddressPrefix"]] if props.get("sourceAddressPrefix") else []),
    ]
    if not sources or not all(same_network(s, source) for s in sources):
        return False
    rule_ports = _rule_ports(props)
    if not rule_ports or not rule_ports <= {str(p) for p in ports}:
        return False
    destinations = [
        *(props.get("destinationAddressPrefixes") or []),
        *([props["destinationAddressPrefix"]] if props.get("destinationAddressPrefix") else []),
    ]
    return bool(destinations) and all(any(same_network(d, ip) for ip in vm_ips) for d in destinations)
