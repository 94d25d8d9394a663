"""`/jit list` tabs with paging, and the App Home tab."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.home import CANCEL_ACTION, home_view
from bot.blocks.inventory import (
    ENABLE_ACTION,
    LIST_MORE_ACTION,
    LIST_TAB_ACTION,
    LIST_TAB_ACTION_PATTERN,
    PageRef,
    decode_page,
    encode_page,
    inventory_message,
    requirements_missing,
    select,
)
from bot.blocks.notices import EXTEND_ACTION, REVOKE_ACTION
from bot.blocks.request import APPROVE_ACTION, DENY_ACTION
from jit.model import (
    JitActivity,
    JitPolicy,
    JitSupport,
    PolicyPort,
    PortProtocol,
    RequestState,
    UnsupportedReason,
    VirtualMachine,
    VmJitStatus,
)
from tests.bot.blocks_support import (
    NOW,
    access_request,
    all_text,
    buttons,
    check_message,
    check_view,
    decided,
    texts,
    vm_ref,
)


def _configured(name: str, rg: str = "prod-rg", location: str = "westeurope") -> VmJitStatus:
    ref = vm_ref(name, rg, location)
    policy = JitPolicy(
        id=f"/subscriptions/{ref.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Security/locations/"
        f"{location}/jitNetworkAccessPolicies/default",
        subscription_id=ref.subscription_id,
        resource_group=rg,
        location=location,
        name="default",
        vm_id=ref.id,
        ports=(
            PolicyPort(22, PortProtocol.TCP, ("10.0.0.0/8", "192.168.0.0/16"), timedelta(hours=3)),
            PolicyPort(3389, PortProtocol.ANY, ("*",), timedelta(hours=1)),
        ),
    )
    activity = JitActivity(approved_last_7_days=4, last_access=NOW - timedelta(hours=5), last_user="U0LASTUSER")
    return VmJitStatus(VirtualMachine(ref), JitSupport.CONFIGURED, policy=policy, activity=activity)


def _not_configured(name: str, rg: str = "dev-rg") -> VmJitStatus:
    return VmJitStatus(VirtualMachine(vm_ref(name, rg, "northeurope")), JitSupport.NOT_CONFIGURED)


def _unsupported(name: str, *reasons: UnsupportedReason) -> VmJitStatus:
    return VmJitStatus(VirtualMachine(vm_ref(name, "legacy-rg", "eastus")), JitSupport.UNSUPPORTED, reasons)


INVENTORY = [
    _configured("web-01"),
    _configured("web-02", location="eastus"),
    _configured("sql-01", rg="data-rg"),
    _not_configured("build-01"),
    _unsupported("old-01", UnsupportedReason.CLASSIC_VM),
    _unsupported("bare-01", UnsupportedReason.NO_NSG, UnsupportedReason.DEFENDER_OFF),
    _unsupported("fw-01", UnsupportedReason.FIREWALL_MANAGED),
]


def test_configured_tab_shows_portal_columns() -> None:
    message = inventory_message(INVENTORY, now=NOW, tab=JitSupport.CONFIGURED)
    check_message(message)
    text = all_text(message)
    assert "*web-01* · `prod-rg` · `westeurope`" in text
    assert "22 (SSH) · TCP · from `10.0.0.0/8`, `192.168.0.0/16` · up to 3h" in text
    assert "3389 (RDP) · any protocol · from `*` (any address) · up to 1h" in text
    assert "4 approved in the last 7 days · last access <!date^" in text
    assert "by <@U0LASTUSER>" in text
    assert "build-01" not in text


def test_default_tab_is_configured_with_tab_buttons_and_counts() -> None:
    message = inventory_message(INVENTORY, now=NOW)
    check_message(message)
    tabs = [b for b in buttons(message.blocks) if LIST_TAB_ACTION_PATTERN.fullmatch(b["action_id"])]
    assert [b["text"]["text"] for b in tabs] == ["Configured (3)", "Not configured (1)", "Unsupported (3)"]
    assert tabs[0]["style"] == "primary"
    assert [decode_page(b["value"]) for b in tabs] == [PageRef(t) for t in JitSupport]


def test_not_configured_tab_offers_enable_only_to_admins() -> None:
    admin = inventory_message(INVENTORY, now=NOW, tab=JitSupport.NOT_CONFIGURED, is_admin=True)
    check_message(admin)
    enable = [b for b in buttons(admin.blocks) if b["action_id"] == ENABLE_ACTION]
    assert [b["value"] for b in enable] == [vm_ref("build-01", "dev-rg", "northeurope").id]
    member = inventory_message(INVENTORY, now=NOW, tab=JitSupport.NOT_CONFIGURED, is_admin=False)
    assert not [b for b in buttons(member.blocks) if b["action_id"] == ENABLE_ACTION]
    assert "Only jitbot admins can enable JIT" in all_text(member)


def test_unsupported_tab_explains_reason_and_fix() -> None:
    text = all_text(inventory_message(INVENTORY, now=NOW, tab=JitSupport.UNSUPPORTED))
    assert "classic (Azure Service Manager) VM" in text
    assert "Migrate it to Azure Resource Manager" in text
    assert "No network security group" in text
    assert "Defender for Servers is not enabled" in text
    assert "Firewall Manager" in text
    assert text.count("_Fix:_") == 4


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("web", ["web-01", "web-02"]),
        ("DATA-RG", ["sql-01"]),
        ("eastus", ["web-02"]),
        ("web-0*", ["web-01", "web-02"]),
        ("*-rg", ["sql-01", "web-01", "web-02"]),
        ("nomatch", []),
    ],
)
def test_filter_matches_name_resource_group_or_region(pattern: str, names: list[str]) -> None:
    assert [r.vm.ref.name for r in select(INVENTORY, JitSupport.CONFIGURED, pattern)] == names


def test_empty_tab_says_so() -> None:
    message = inventory_message(INVENTORY, now=NOW, tab=JitSupport.CONFIGURED, pattern="nomatch")
    check_message(message)
    assert "No VMs matching `nomatch` have JIT configured" in all_text(message)


def test_paging_covers_every_vm_once_within_the_block_limit() -> None:
    rows = [_configured(f"vm-{i:03d}") for i in range(137)]
    seen: list[str] = []
    ref: PageRef | None = PageRef(JitSupport.CONFIGURED, "vm", 0)
    pages = 0
    while ref is not None:
        message = inventory_message(rows, now=NOW, tab=ref.tab, pattern=ref.filter, offset=ref.offset, page_size=25)
        check_message(message)
        pages += 1
        seen += [t.split("*")[1] for t in texts(message.blocks) if t.startswith("*vm-")]
        more = [b for b in buttons(message.blocks) if b["action_id"] == LIST_MORE_ACTION]
        ref = decode_page(more[0]["value"]) if more else None
    assert pages == 6
    assert seen == [f"vm-{i:03d}" for i in range(137)]


def test_page_size_is_capped_so_any_inventory_fits() -> None:
    rows = [_not_configured(f"vm-{i:04d}") for i in range(2000)]
    message = inventory_message(rows, now=NOW, tab=JitSupport.NOT_CONFIGURED, page_size=500, is_admin=True)
    check_message(message)
    assert "Showing 1–40 of 2000." in all_text(message)


def test_page_past_the_end() -> None:
    message = inventory_message(INVENTORY, now=NOW, tab=JitSupport.CONFIGURED, offset=99)
    check_message(message)
    assert "No more VMs on this tab." in all_text(message)


@pytest.mark.parametrize(
    "value",
    ["", "x:0:", "c:-1:", "c:1", "c:0:<!channel>", "c:0:a|b", "c:9999999:", "c:0:" + "a" * 101, "c:0:web\n"],
)
def test_tampered_page_values_decode_to_nothing(value: str) -> None:
    assert decode_page(value) is None


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.sampled_from(list(JitSupport)),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_().*/-]{1,100}", fullmatch=True)),
    st.integers(min_value=0, max_value=999_999),
)
def test_page_values_round_trip(tab: JitSupport, pattern: str | None, offset: int) -> None:
    ref = PageRef(tab, pattern, offset)
    assert decode_page(encode_page(ref)) == ref


def test_requirements_missing_message() -> None:
    message = requirements_missing(vm_ref("old-01"), (UnsupportedReason.DEFENDER_OFF,))
    check_message(message)
    assert "Turn on the Defender for Servers plan" in all_text(message)


def test_home_view_for_an_admin_with_everything() -> None:
    active = decided(RequestState.ACTIVE, id="jr-active01", ends_at=NOW + timedelta(minutes=40))
    pending = access_request(id="jr-pending1")
    waiting = access_request(id="jr-waiting1", requester="U0OTHER001", reason="<!channel> deploy")
    counts = {JitSupport.CONFIGURED: 12, JitSupport.NOT_CONFIGURED: 3, JitSupport.UNSUPPORTED: 2}
    view = home_view(now=NOW, active=[active], pending=[pending], awaiting_me=[waiting], counts=counts)
    check_view(view)
    assert view["type"] == "home"
    text = "\n".join(texts(view["blocks"]))
    assert "*Your open access* (1)" in text
    assert "40m left" in text
    assert "*Your pending requests* (1)" in text
    assert "*Waiting for your approval* (1)" in text
    assert "<@U0OTHER001> wants 22 (SSH) on `web-01`" in text
    assert "&lt;!channel&gt; deploy" in text
    assert "<!channel>" not in text
    found = [(b["action_id"], b["value"]) for b in buttons(view["blocks"])]
    assert (EXTEND_ACTION, "jr-active01") in found
    assert (REVOKE_ACTION, "jr-active01") in found
    assert (APPROVE_ACTION, "jr-waiting1") in found
    assert (DENY_ACTION, "jr-waiting1") in found
    tabs = [decode_page(value) for action, value in found if action == LIST_TAB_ACTION]
    assert tabs == [PageRef(t) for t in JitSupport]
    assert "*Configured*: 12 VMs" in text


def test_each_pending_request_on_home_has_a_cancel_button_with_a_confirmation() -> None:
    first, second = access_request(id="jr-pending1"), access_request(id="jr-pending2", ports=(3389,))

    view = home_view(now=NOW, pending=[first, second], awaiting_me=[access_request(id="jr-waiting1")])

    check_view(view)
    cancels = [b for b in buttons(view["blocks"]) if b["action_id"] == CANCEL_ACTION]
    assert [b["value"] for b in cancels] == ["jr-pending1", "jr-pending2"]
    confirm = cancels[1]["confirm"]
    assert confirm["title"]["text"] == "Cancel this request?"
    assert "jr-pending2 for 3389 (RDP) on web-01 will be withdrawn" in confirm["text"]["text"]
    assert (confirm["confirm"]["text"], confirm["deny"]["text"]) == ("Cancel request", "Keep it")


def test_home_view_for_a_member_with_nothing() -> None:
    view = home_view(now=NOW)
    check_view(view)
    text = "\n".join(texts(view["blocks"]))
    assert "Nothing open right now." in text
    assert "Nobody is waiting for you." in text
    assert "VM inventory" not in text
    assert not [b for b in buttons(view["blocks"]) if b["action_id"] == LIST_TAB_ACTION]


def test_home_view_with_many_items_stays_within_the_view_limit() -> None:
    active = [
        decided(RequestState.ACTIVE, id=f"jr-a{i:03d}", ends_at=NOW + timedelta(minutes=i + 5)) for i in range(40)
    ]
    pending = [access_request(id=f"jr-p{i:03d}") for i in range(40)]
    waiting = [access_request(id=f"jr-w{i:03d}", requester="U0OTHER001") for i in range(40)]
    counts = dict.fromkeys(JitSupport, 1000)
    view = home_view(now=NOW, active=active, pending=pending, awaiting_me=waiting, counts=counts)
    check_view(view)
    assert "and 32 more" in "\n".join(texts(view["blocks"]))


def test_home_view_ignores_requests_in_the_wrong_list() -> None:
    view = home_view(now=NOW, active=[access_request()], awaiting_me=[decided(RequestState.DENIED)])
    text = "\n".join(texts(view["blocks"]))
    assert "*Your open access* (0)" in text
    assert "*Waiting for your approval* (0)" in text
