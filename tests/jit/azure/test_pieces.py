"""The gateway's pure pieces: error mapping, token scope, JIT rule recognition, policy JSON editing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jit.azure.clients import arm_scope
from jit.azure.failures import status_error
from jit.azure.gateway import AzureGateway
from jit.azure.nsg_rules import is_jit_allow_rule
from jit.azure.policies import activity, port_from_raw, replace_entry
from jit.model import JitRequestRecord, PolicyPort, PortProtocol
from jit.ports import AzureJit
from jit.ports.azure_errors import (
    AzureAuthFailed,
    AzureBadRequest,
    AzureConflict,
    AzureForbidden,
    AzureJitError,
    AzureNotFound,
    AzureThrottled,
    AzureUnavailable,
    NotSubsetOfPolicy,
)


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (400, "Request for vm 'x' is not a subset of policy 'default'", NotSubsetOfPolicy),
        (400, "The request content is invalid", AzureBadRequest),
        (401, "token expired", AzureAuthFailed),
        (403, "AuthorizationFailed", AzureForbidden),
        (404, "ResourceNotFound", AzureNotFound),
        (409, "Conflict", AzureConflict),
        (422, "odd", AzureBadRequest),
        (429, "TooManyRequests", AzureThrottled),
        (500, "InternalServerError", AzureUnavailable),
        (503, "ServiceUnavailable", AzureUnavailable),
    ],
)
def test_status_mapping_keeps_azure_text(status: int, message: str, error: type[AzureJitError]) -> None:
    mapped = status_error(status, message)
    assert type(mapped) is error
    assert mapped.detail == message
    assert mapped.status == status
    assert mapped.user_message


@pytest.mark.parametrize(
    ("endpoint", "scope"),
    [
        ("https://management.azure.com", "https://management.azure.com/.default"),
        ("https://westeurope.management.azure.com/", "https://management.azure.com/.default"),
        ("https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/.default"),
        ("https://127.0.0.1:8443", "https://management.azure.com/.default"),
    ],
)
def test_token_scope_is_the_clouds_arm_audience(endpoint: str, scope: str) -> None:
    assert arm_scope(endpoint) == scope


def rule(name: str = "SecurityCenter-JITRule-1-2", **props: Any) -> dict[str, Any]:
    base = {
        "access": "Allow",
        "direction": "Inbound",
        "sourceAddressPrefix": "10.1.1.1",
        "destinationPortRange": "22",
        "destinationAddressPrefix": "10.0.0.4",
    }
    return {"name": name, "properties": {**base, **props}}


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (rule(), True),
        (rule(sourceAddressPrefix="10.1.1.1/32"), True),
        (rule(name="allow-ssh"), False),
        (rule(access="Deny"), False),
        (rule(direction="Outbound"), False),
        (rule(sourceAddressPrefix="10.1.1.2"), False),
        (rule(destinationPortRange="3389"), False),
        (rule(destinationPortRange=None, destinationPortRanges=["22", "3389"]), False),
        (rule(destinationAddressPrefix="10.0.0.5"), False),
        (rule(destinationAddressPrefix="*"), False),
        (rule(destinationAddressPrefix=None), False),
        (rule(destinationAddressPrefix=None, destinationAddressPrefixes=["10.0.0.4", "10.0.0.9"]), False),
        (rule(destinationAddressPrefix=None, destinationAddressPrefixes=["10.0.0.4/32"]), True),
    ],
)
def test_jit_allow_rule_recognition(candidate: dict[str, Any], expected: bool) -> None:
    """Only a rule whose every destination is this VM's address is this VM's: JIT rules name no owner, and an NSG
    on a subnet guards the neighbours too."""
    assert is_jit_allow_rule(candidate, {22}, "10.1.1.1", ("10.0.0.4",)) is expected


def test_replace_entry_keeps_order_and_unknown_fields() -> None:
    other = {
        "id": "/s/x/vm/a",
        "ports": [{"number": 22, "someFutureField": {"k": [1, 2]}}],
        "publicIpAddress": "1.2.3.4",
    }
    mine = {"id": "/S/X/VM/B", "ports": []}
    policy = {"properties": {"virtualMachines": [other, mine, {"id": "/s/x/vm/c", "ports": []}]}}
    new = {"id": "/s/x/vm/b", "ports": [{"number": 3389}]}
    assert replace_entry(policy, "/s/x/vm/b", new) == [other, new, {"id": "/s/x/vm/c", "ports": []}]
    assert json.dumps(replace_entry(policy, "/s/x/vm/b", None)[0]) == json.dumps(other)
    assert replace_entry(None, "/s/x/vm/b", new) == [new]


def test_port_from_raw_tolerates_loose_azure_values() -> None:
    assert port_from_raw({"number": 22, "protocol": "tcp", "maxRequestAccessDuration": "PT90M"}) == PolicyPort(
        22, PortProtocol.TCP, ("*",), timedelta(minutes=90)
    )
    assert (
        port_from_raw({"number": 22, "protocol": "ICMP", "maxRequestAccessDuration": "junk"}).protocol
        is PortProtocol.ANY
    )


def test_activity_counts_only_the_last_seven_days() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def record(days: float, person: str | None, requestor: str) -> JitRequestRecord:
        return JitRequestRecord("/vm", now - timedelta(days=days), requestor, "", (), person)

    columns = activity([record(8, "U1", "bot"), record(6.9, None, "carol@contoso.com"), record(2, "U2", "bot")], now)
    assert (columns.approved_last_7_days, columns.last_access, columns.last_user) == (2, now - timedelta(days=2), "U2")


def test_gateway_implements_the_port(gateway: AzureGateway) -> None:
    port: AzureJit = gateway
    assert port is gateway
