"""How people name a VM (``vm``, ``rg/vm``, ``sub/rg/vm`` or a resource id), checked against Azure's naming rules.

Checking here means a typo or an injection attempt never reaches Azure: the gateway makes no call for a
name Azure could not hold.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from jit.ports.azure_errors import InvalidVmName

VM_NAME_MAX_LENGTH = 64
_VM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_])?")
_NOT_IN_VM_NAMES = re.compile(r"[^A-Za-z0-9._-]")
_RESOURCE_GROUP = re.compile(r"[-\w.()]{0,89}[-\w()]", re.UNICODE)
_SUBSCRIPTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_SUBSCRIPTION_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RESOURCE_ID = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.(?:Classic)?Compute/virtualMachines/(?P<vm>[^/]+)",
    re.IGNORECASE,
)
_EXAMPLE = "Use `vm-name`, `resource-group/vm-name` or `subscription-id/resource-group/vm-name`."


@dataclass(frozen=True)
class VmSpec:
    """A parsed VM reference; resource group and subscription are None when the user left them out."""

    name: str
    resource_group: str | None = None
    subscription_id: str | None = None

    def matches(self, subscription_id: str, resource_group: str, name: str) -> bool:
        """Azure names compare case-insensitively."""
        if self.name.lower() != name.lower():
            return False
        if self.resource_group is not None and self.resource_group.lower() != resource_group.lower():
            return False
        return self.subscription_id is None or self.subscription_id.lower() == subscription_id.lower()


def is_vm_name(text: str) -> bool:
    """Azure's rule for a VM name: 1-64 letters, digits, ``-``, ``_`` or ``.``, starting with a letter or digit and
    not ending with ``-`` or ``.``."""
    return _VM.fullmatch(text) is not None


def nearest_vm_name(text: str) -> str | None:
    """``text`` with what a VM name may not hold removed (other characters, leading and trailing punctuation,
    the length past 64); None when no valid name is left."""
    cleaned = _NOT_IN_VM_NAMES.sub("", text).strip("._-")[:VM_NAME_MAX_LENGTH].rstrip(".-")
    return cleaned if is_vm_name(cleaned) else None


def closest_vm_names(text: str, known: Iterable[str]) -> tuple[str, ...]:
    """The names in ``known`` that ``text`` most likely meant, best first: those equal to it once case and the
    punctuation Azure allows (``-``, ``_``, ``.``) are ignored (``web01`` → ``web-01``), else close spellings."""
    names = sorted(set(known), key=str.lower)
    same = [name for name in names if _bare(name) == _bare(text)]
    if same:
        return tuple(same)
    by_bare = {_bare(name): name for name in names}
    close = difflib.get_close_matches(_bare(text), list(by_bare), n=3, cutoff=0.8)
    return tuple(by_bare[bare] for bare in close)


def did_you_mean(wanted: VmSpec, vms: Iterable[tuple[str, str, str]]) -> tuple[str, ...]:
    """For a spec that matched nothing, the VMs among ``vms`` (subscription, resource group, name) it most likely
    meant, written the way the person wrote theirs (with the resource group or subscription they gave) and with
    the resource group added where the name alone would be ambiguous."""
    scope = [
        vm
        for vm in vms
        if (wanted.resource_group is None or vm[1].lower() == wanted.resource_group.lower())
        and (wanted.subscription_id is None or vm[0].lower() == wanted.subscription_id.lower())
    ]
    specs: list[str] = []
    for name in closest_vm_names(wanted.name, (vm[2] for vm in scope)):
        same = [vm for vm in scope if vm[2] == name]
        for subscription, group, _ in same:
            if wanted.subscription_id is not None:
                specs.append(f"{subscription}/{group}/{name}")
            elif wanted.resource_group is not None or len(same) > 1:
                specs.append(f"{group}/{name}")
            else:
                specs.append(name)
    return tuple(dict.fromkeys(specs))


def _bare(name: str) -> str:
    return re.sub(r"[-_.]", "", name).lower()


def is_resource_group_name(text: str) -> bool:
    """Azure's rule for a resource group name: 1-90 letters, digits, ``-``, ``_``, ``.`` or parentheses, not ending
    with ``.``."""
    return _RESOURCE_GROUP.fullmatch(text) is not None


def is_subscription_guid(text: str) -> bool:
    """A subscription id in its canonical form, a GUID (how people give one in a command)."""
    return _SUBSCRIPTION_GUID.fullmatch(text) is not None


def parse_vm_spec(spec: str) -> VmSpec:
    """Split and validate what the user typed; raises InvalidVmName for anything Azure could not hold."""
    text = spec.strip()
    by_id = _RESOURCE_ID.fullmatch(text)
    parts = [by_id["sub"], by_id["rg"], by_id["vm"]] if by_id is not None else text.split("/")
    if not text or len(parts) > 3:
        raise InvalidVmName(f"`{_shorten(text)}` is not a VM name. {_EXAMPLE}")
    name = parts[-1]
    if not is_vm_name(name):
        raise InvalidVmName(
            f"`{_shorten(name)}` is not a valid Azure VM name: use 1-64 letters, digits, `-`, `_` or `.`, "
            f"starting with a letter or digit and not ending with `-` or `.`. {_EXAMPLE}"
        )
    resource_group = parts[-2] if len(parts) >= 2 else None
    if resource_group is not None and not is_resource_group_name(resource_group):
        raise InvalidVmName(
            f"`{_shorten(resource_group)}` is not a valid resource group name: use up to 90 letters, digits, "
            f"`-`, `_`, `.` or parentheses, not ending with `.`. {_EXAMPLE}"
        )
    subscription_id = parts[0] if len(parts) == 3 else None
    if subscription_id is not None and not _SUBSCRIPTION.fullmatch(subscription_id):
        raise InvalidVmName(f"`{_shorten(subscription_id)}` is not a subscription id. {_EXAMPLE}")
    return VmSpec(name=name, resource_group=resource_group, subscription_id=subscription_id)


def _shorten(text: str, limit: int = 80) -> str:
    cleaned = "".join(ch if ch.isprintable() and ch != "`" else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
