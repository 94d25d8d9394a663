"""A VM as people name it in a command (``vm``, ``rg/vm`` or ``subscription/rg/vm``), checked against the
domain's naming rules (``jit.vm_names``) and explained precisely when it breaks one.

Only plain ASCII is accepted, so look-alike and invisible characters never reach a name. A subscription is
given as its id, which is lower-cased.
"""

from __future__ import annotations

import unicodedata

from bot.grammar.errors import EXAMPLE_VM, ExampleFn, GrammarError, request_example
from bot.grammar.text import fold, shown
from jit.vm_names import VM_NAME_MAX_LENGTH, is_resource_group_name, is_subscription_guid, is_vm_name, nearest_vm_name


def parse_vm_token(token: str, example: ExampleFn) -> str:
    """The VM spec in ``token``, normalised; GrammarError with ``example(corrected spec)`` when it is wrong."""
    return _vm_spec(fold(token), token, example)


def valid_vm_spec(spec: str) -> bool:
    """True when ``spec`` names a VM the way a command may."""
    try:
        _vm_spec(spec)
    except GrammarError:
        return False
    return True


def example_vm(token: str) -> str:
    """``token`` when it is a valid VM spec, else the standard example, for a corrected command."""
    folded = fold(token)
    return folded if valid_vm_spec(folded) else EXAMPLE_VM


def _vm_spec(spec: str, original: str | None = None, example: ExampleFn | None = None) -> str:
    build = example or (lambda v: request_example(vm=v))
    quoted = shown(original if original is not None else spec)
    if not spec.isascii() or any(unicodedata.category(ch) in ("Cf", "Cc") for ch in spec):
        raise GrammarError(
            f"{quoted} contains characters Azure does not allow in names (only plain letters, digits, "
            "`-`, `_` and `.`; watch for look-alike or invisible characters).",
            build(EXAMPLE_VM),
        )
    parts = spec.split("/")
    if len(parts) > 3 or any(not p for p in parts):
        raise GrammarError(
            f"{quoted} is not a VM: use a name, `rg/vm` or `subscription/rg/vm`.",
            build(parts[-1] if is_vm_name(parts[-1]) else EXAMPLE_VM),
        )
    name = parts[-1]
    if not is_vm_name(name):
        raise GrammarError(_vm_name_problem(name), build(_suggest_vm_name(name, parts[:-1])))
    if len(parts) >= 2:
        group = parts[-2]
        if not is_resource_group_name(group):
            raise GrammarError(
                f"{shown(group)} is not a valid resource group name: 1 to 90 letters, digits, `_`, `-`, `.`, "
                "`(` or `)`, not ending in `.`.",
                build(name),
            )
    if len(parts) == 3:
        if not is_subscription_guid(parts[0]):
            raise GrammarError(
                f"{shown(parts[0])} is not a subscription id (a GUID like `00000000-0000-0000-0000-000000000000`).",
                build(f"{parts[1]}/{name}"),
            )
        return f"{parts[0].lower()}/{parts[1]}/{name}"
    return "/".join(parts)


def _vm_name_problem(name: str) -> str:
    """Which part of Azure's VM name rule ``name`` breaks."""
    quoted = shown(name)
    if len(name) > VM_NAME_MAX_LENGTH:
        return f"{quoted} is {len(name)} characters long; Azure VM names are at most {VM_NAME_MAX_LENGTH}."
    if name[:1] in "._-":
        return f"{quoted} is not a valid VM name: it must start with a letter or digit."
    if name[-1:] in ".-":
        return f"{quoted} is not a valid VM name: it cannot end with `.` or `-`."
    return (
        f"{quoted} is not a valid VM name: Azure allows letters, digits, `-`, `_` and `.` "
        f"(1 to {VM_NAME_MAX_LENGTH} characters)."
    )


def _suggest_vm_name(name: str, prefix: list[str]) -> str:
    candidate = nearest_vm_name(name) or EXAMPLE_VM
    if len(prefix) == 1 and is_resource_group_name(prefix[0]):
        return f"{prefix[0]}/{candidate}"
    return candidate
