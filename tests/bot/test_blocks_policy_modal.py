"""The enable/edit JIT modal: pre-fill, round trip, inline errors on the right field, and the disable confirmation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.policy_modal import (
    DISABLE_CALLBACK_ID,
    EXTRA_PORTS_BLOCK,
    MAX_PORT_SLOTS,
    POLICY_CALLBACK_ID,
    disable_modal,
    extra_port_line,
    policy_disabled_message,
    policy_modal,
    policy_saved_message,
    recommended_ports,
)
from bot.blocks.policy_submission import parse_policy_submission
from jit.model import HeldPort, HolderView, JitPolicy, PolicyPort, PortProtocol
from tests.bot.blocks_support import (
    NOW,
    all_text,
    check_message,
    check_view,
    set_value,
    state_from_view,
    texts,
    vm_ref,
)

VM = vm_ref()


def _policy(*ports: PolicyPort) -> JitPolicy:
    return JitPolicy(
        id="/subscriptions/x/resourceGroups/prod-rg/providers/Microsoft.Security/locations/westeurope/"
        "jitNetworkAccessPolicies/default",
        subscription_id=VM.subscription_id,
        resource_group="prod-rg",
        location="westeurope",
        name="default",
        vm_id=VM.id,
        ports=ports,
    )


def _enable_state() -> dict[str, Any]:
    return state_from_view(policy_modal(VM))


def test_enable_modal_is_prefilled_with_the_recommended_ports() -> None:
    view = policy_modal(VM)
    check_view(view)
    assert view["callback_id"] == POLICY_CALLBACK_ID
    assert view["private_metadata"] == VM.id
    assert view["title"]["text"] == "Enable JIT"
    numbers = [b["element"]["initial_value"] for b in view["blocks"] if b.get("block_id", "").endswith("_number")]
    assert numbers == ["22", "3389", "5985", "5986"]
    labels = "\n".join(texts(view["blocks"]))
    for piece in ("Port 1 (SSH)", "Port 2 (RDP)", "Port 3 (WinRM)", "Protocol", "Allowed source IPs",
                  "Maximum request time", "Remove port 22", "Add ports", "8080 tcp 10.0.0.0/8 2h"):  # fmt: skip
        assert piece in labels
    maxes = [b["element"]["initial_value"] for b in view["blocks"] if b.get("block_id", "").endswith("_max")]
    assert maxes == ["3h"] * 4


def test_unchanged_enable_modal_saves_the_recommended_ports() -> None:
    assert parse_policy_submission(_enable_state()) == list(recommended_ports())


def test_edit_modal_round_trips_an_existing_policy() -> None:
    policy = _policy(
        PolicyPort(22, PortProtocol.TCP, ("10.0.0.0/8", "192.168.1.0/24"), timedelta(hours=1)),
        PolicyPort(8443, PortProtocol.UDP, ("203.0.113.7",), timedelta(minutes=90)),
    )
    view = policy_modal(VM, policy)
    check_view(view)
    assert view["title"]["text"] == "Edit JIT"
    assert parse_policy_submission(state_from_view(view)) == list(policy.ports)


def test_policies_with_more_ports_than_slots_keep_the_rest_in_the_extra_field() -> None:
    ports = tuple(PolicyPort(1000 + i, PortProtocol.TCP, ("10.0.0.0/8",), timedelta(minutes=30 + i)) for i in range(20))
    view = policy_modal(VM, _policy(*ports))
    check_view(view)
    extra = next(b for b in view["blocks"] if b.get("block_id") == EXTRA_PORTS_BLOCK)
    assert len(extra["element"]["initial_value"].splitlines()) == 20 - MAX_PORT_SLOTS
    assert parse_policy_submission(state_from_view(view)) == list(ports)


def test_remove_checkbox_drops_a_port() -> None:
    state = _enable_state()
    state["values"]["port_1_remove"]["value"]["selected_options"] = [{"value": "remove"}]
    set_value(state, "port_1_sources", "not an ip")
    result = parse_policy_submission(state)
    assert isinstance(result, list)
    assert [p.number for p in result] == [22, 5985, 5986]


def test_custom_ports_are_added_from_the_extra_lines() -> None:
    state = _enable_state()
    set_value(state, EXTRA_PORTS_BLOCK, "8080 tcp 10.0.0.0/8 2h\n\n9000\n1433/TCP 10.1.0.0/16,10.2.0.5 PT45M\n53 udp")
    result = parse_policy_submission(state)
    assert isinstance(result, list)
    assert result[4:] == [
        PolicyPort(8080, PortProtocol.TCP, ("10.0.0.0/8",), timedelta(hours=2)),
        PolicyPort(9000, PortProtocol.ANY, ("*",), timedelta(hours=3)),
        PolicyPort(1433, PortProtocol.TCP, ("10.1.0.0/16", "10.2.0.5"), timedelta(minutes=45)),
        PolicyPort(53, PortProtocol.UDP, ("*",), timedelta(hours=3)),
    ]


def test_changed_fields_are_normalised() -> None:
    state = _enable_state()
    set_value(state, "port_0_number", " 2222 ")
    set_value(state, "port_0_sources", "10.0.0.0/8,  2001:DB8::/32 ; 10.0.0.0/8")
    set_value(state, "port_0_max", "PT90M")
    state["values"]["port_0_protocol"]["value"]["selected_option"] = {"value": "TCP"}
    result = parse_policy_submission(state)
    assert isinstance(result, list)
    assert result[0] == PolicyPort(2222, PortProtocol.TCP, ("10.0.0.0/8", "2001:db8::/32"), timedelta(minutes=90))


@pytest.mark.parametrize(
    ("block", "value", "message"),
    [
        ("port_0_sources", "10.1.2.3/24", "host bits set; did you mean 10.1.2.0/24?"),
        ("port_0_sources", "10.0.0.0/33", "not a valid CIDR"),
        ("port_0_sources", "example.com", "not an IP address or CIDR range"),
        ("port_0_sources", "", "at least one source"),
        ("port_0_sources", "*, 10.0.0.0/8", "use it alone"),
        ("port_1_number", "70000", "Port 70000 is out of range"),
        ("port_1_number", "0", "Port 0 is out of range"),
        ("port_1_number", "ssh", "not a port number"),
        ("port_1_number", "", "Enter a port number"),
        ("port_1_number", "２２", "not a port number"),
        ("port_2_max", "4m", "outside 5 minutes to 24 hours"),
        ("port_2_max", "25h", "outside 5 minutes to 24 hours"),
        ("port_2_max", "soon", "not a duration"),
        ("port_2_max", "", "Enter a maximum time"),
        ("port_3_number", "22", "Port 22 is listed twice (port 1)"),
    ],
)
def test_each_bad_field_gets_its_own_inline_error(block: str, value: str, message: str) -> None:
    state = _enable_state()
    set_value(state, block, value)
    result = parse_policy_submission(state)
    assert isinstance(result, dict)
    assert list(result) == [block]
    assert message in result[block]
    assert len(result[block]) < 300


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("8080 tcp 10.1.2.3/24", "Line 1: `10.1.2.3/24` has host bits set"),
        ("8080\n70000", "Line 2: Port 70000 is out of range"),
        ("8080 tcp * 30h", "Line 1: 30h is outside 5 minutes to 24 hours"),
        ("8080 tcp * 2h extra", "Line 1: “extra” is extra"),
        ("22", "Line 1: port 22 is listed twice (port 1)"),
        ("8080\n8080 udp", "Line 2: port 8080 is listed twice (line 1)"),
    ],
)
def test_extra_port_lines_are_checked_with_the_line_number(extra: str, message: str) -> None:
    state = _enable_state()
    set_value(state, EXTRA_PORTS_BLOCK, extra)
    result = parse_policy_submission(state)
    assert isinstance(result, dict)
    assert message.replace("`", "") in result[EXTRA_PORTS_BLOCK]


def test_several_errors_are_reported_together() -> None:
    state = _enable_state()
    set_value(state, "port_0_sources", "nope")
    set_value(state, "port_2_max", "1m")
    set_value(state, EXTRA_PORTS_BLOCK, "99999")
    result = parse_policy_submission(state)
    assert isinstance(result, dict)
    assert set(result) == {"port_0_sources", "port_2_max", EXTRA_PORTS_BLOCK}


def test_removing_every_port_is_an_error_pointing_at_disable() -> None:
    state = _enable_state()
    for slot in range(4):
        state["values"][f"port_{slot}_remove"]["value"]["selected_options"] = [{"value": "remove"}]
    result = parse_policy_submission(state)
    assert isinstance(result, dict)
    assert "/jit disable" in result[EXTRA_PORTS_BLOCK]


def test_missing_protocol_is_an_error() -> None:
    state = _enable_state()
    state["values"]["port_0_protocol"]["value"]["selected_option"] = None
    assert parse_policy_submission(state) == {"port_0_protocol": "Choose TCP, UDP or Any."}


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"values": None},
        {"values": {"port_0_number": "x"}},
        {"values": {"port_0_number": {"value": None}}},
        {"values": {"port_0_number": {"value": {"value": 22}}}},
        {"values": []},
    ],
)
def test_malformed_state_gives_errors_not_exceptions(state: dict[str, Any]) -> None:
    result = parse_policy_submission(state)
    assert isinstance(result, dict)
    assert result


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "port_0_number",
                "port_0_sources",
                "port_0_max",
                "port_0_protocol",
                "port_0_remove",
                "port_7_number",
                EXTRA_PORTS_BLOCK,
            ]
        ),
        st.dictionaries(
            st.just("value"),
            st.dictionaries(
                st.sampled_from(["value", "selected_option", "selected_options"]),
                st.one_of(
                    st.text(max_size=80), st.none(), st.integers(), st.lists(st.dictionaries(st.text(), st.text()))
                ),
            ),
        ),
    )
)
def test_any_submitted_state_yields_ports_or_errors(values: dict[str, Any]) -> None:
    result = parse_policy_submission({"values": values})
    assert isinstance(result, list | dict)
    if isinstance(result, list):
        assert result
        assert len({p.number for p in result}) == len(result)


def test_extra_port_line_round_trips() -> None:
    port = PolicyPort(8080, PortProtocol.UDP, ("10.0.0.0/8", "10.1.0.0/16"), timedelta(minutes=90))
    assert extra_port_line(port) == "8080 udp 10.0.0.0/8,10.1.0.0/16 1h30m"


def test_hint_explains_the_extra_ports_format() -> None:
    view = policy_modal(VM)
    extra = next(b for b in view["blocks"] if b.get("block_id") == EXTRA_PORTS_BLOCK)
    assert extra["optional"] is True
    assert "One port per line" in extra["hint"]["text"]


def test_saved_and_disabled_confirmations() -> None:
    policy = _policy(PolicyPort(22, PortProtocol.TCP, ("10.0.0.0/8",), timedelta(hours=3)))
    saved = policy_saved_message(VM, policy, "U0ADMIN001")
    check_message(saved)
    assert "<@U0ADMIN001> saved the JIT policy of `web-01`" in all_text(saved)
    assert "22 (SSH) · TCP · from `10.0.0.0/8` · up to 3h" in all_text(saved)
    disabled = policy_disabled_message(VM, "U0ADMIN001")
    check_message(disabled)
    assert "removed `web-01` from just-in-time access" in all_text(disabled)


def test_disable_confirmation_modal() -> None:
    view = disable_modal(VM, (), NOW)
    check_view(view)
    assert view["callback_id"] == DISABLE_CALLBACK_ID
    assert view["private_metadata"] == VM.id
    assert view["submit"]["text"] == "Disable JIT"
    assert "may leave them open" in "\n".join(texts(view["blocks"]))
    assert "open on this VM right now" not in "\n".join(texts(view["blocks"]))


def test_disable_confirmation_warns_about_open_grants_and_what_becomes_of_them() -> None:
    until = NOW + timedelta(minutes=40)
    open_now = (
        HeldPort(22, until, (HolderView(until, "U0ENGINE01", True, "203.0.113.7", request_id="jr-1"),)),
        HeldPort(3389, until, (HolderView(until, "pat@contoso.com", False, "198.51.100.9"),)),
    )

    view = disable_modal(VM, open_now, NOW)

    check_view(view)
    text = "\n".join(texts(view["blocks"]))
    assert ":warning: *2 ports are open on this VM right now.*" in text
    assert "• 22 (SSH) until <!date^" in text and "(40m left): <@U0ENGINE01> from `203.0.113.7`" in text
    assert "`pat@contoso.com` (outside jitbot)" in text
    assert (
        "Disabling JIT does not close them: Azure keeps what it opened until the end shown" in text
        and "`/jit revoke <request-id>`" in text
    )
    many = tuple(HeldPort(1000 + i, until, (HolderView(until, "U0ENGINE01", True),)) for i in range(25))
    crowded = disable_modal(VM, many, NOW)
    check_view(crowded)
    assert "• and 15 more" in "\n".join(texts(crowded["blocks"]))
