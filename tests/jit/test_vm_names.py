"""VM specs as people type them, and the names Azure could never hold."""

from __future__ import annotations

import pytest

from jit.ports.azure_errors import InvalidVmName
from jit.vm_names import VM_NAME_MAX_LENGTH, VmSpec, is_subscription_guid, nearest_vm_name, parse_vm_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web-01", VmSpec("web-01")),
        ("  Web-01 ", VmSpec("Web-01")),
        ("rg-app/web-01", VmSpec("web-01", "rg-app")),
        ("0000-sub/rg.app(1)/web_01", VmSpec("web_01", "rg.app(1)", "0000-sub")),
        (
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1",
            VmSpec("vm1", "rg1", "s1"),
        ),
    ],
)
def test_accepted_forms(text: str, expected: VmSpec) -> None:
    assert parse_vm_spec(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a/b/c/d",
        "web 01",
        "web;rm -rf",
        "web-",
        "web.",
        "_web",
        "x" * 65,
        "rg./web",
        "bad rg/web",
        "s*b/rg/web",
        "<@U123>",
        "web`01",
    ],
)
def test_rejected_names(text: str) -> None:
    with pytest.raises(InvalidVmName) as caught:
        parse_vm_spec(text)
    assert "`" in caught.value.user_message


def test_spec_matches_case_insensitively() -> None:
    spec = parse_vm_spec("RG/Web")
    assert spec.matches("sub", "rg", "web")
    assert not spec.matches("sub", "other", "web")
    assert parse_vm_spec("SUB/rg/web").matches("sub", "RG", "WEB")
    assert not parse_vm_spec("sub2/rg/web").matches("sub", "rg", "web")


def test_nearest_vm_name_drops_what_azure_does_not_allow() -> None:
    assert nearest_vm_name("-web#01.") == "web01"
    assert nearest_vm_name("x" * 70) == "x" * VM_NAME_MAX_LENGTH
    assert nearest_vm_name("!!!") is None


def test_a_subscription_id_in_canonical_form_is_a_guid() -> None:
    assert is_subscription_guid("abcdef00-1111-2222-3333-444455556666")
    assert not is_subscription_guid("0000-sub")
