"""Authentication and request hygiene as ARM enforces them: managed identity tokens, api-version, unknown paths."""

from __future__ import annotations

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential
from azure.mgmt.compute.aio import ComputeManagementClient

from sandbox.arm import ArmEmulator
from tests.sandbox.arm_support import (  # noqa: F401
    RG,
    SUB,
    arm_fixture,
    client_options,
    clock_fixture,
    compute,
    credential_fixture,
    raw,
    token_for,
    world_fixture,
)

SUB_PATH = f"/subscriptions/{SUB}"
VM_PATH = f"{SUB_PATH}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
POLICY_PATH = (
    f"{SUB_PATH}/resourceGroups/{RG}/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"
)
NO_SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
NO_CODE = "NoRegisteredProviderFound"


class StaticToken:
    """A credential that hands out a token the emulator never issued."""

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("forged-token", 4_102_444_800)

    async def close(self) -> None:
        return None


async def test_arm_call_without_token_is_401_with_azures_error_shape(arm: ArmEmulator) -> None:
    status, body, headers = await raw(arm, "GET", VM_PATH, api_version="2024-07-01")
    assert status == 401
    assert body["error"]["code"] == "AuthenticationFailed"
    assert "Authorization" in body["error"]["message"]
    assert headers["WWW-Authenticate"].startswith("Bearer ")
    assert [(c.operation, c.status) for c in arm.calls] == [("compute.vm.get", 401)]


async def test_unissued_token_is_refused_through_the_sdk(arm: ArmEmulator) -> None:
    async with ComputeManagementClient(StaticToken(), SUB, **client_options(arm)) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.virtual_machines.get(RG, "vm1")
    assert caught.value.status_code == 401
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidAuthenticationToken"


async def test_managed_identity_token_opens_arm(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    async with compute(arm, credential) as client:
        vm = await client.virtual_machines.get(RG, "vm1")
    assert vm.name == "vm1"
    token_calls = [c for c in arm.calls if c.operation == "token"]
    assert len(token_calls) == 1
    assert token_calls[0].query == {"api-version": "2019-08-01", "resource": "https://management.azure.com"}
    assert arm.reads() == [c for c in arm.calls if c.operation == "compute.vm.get"]


async def test_default_azure_credential_finds_the_app_service_identity(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    async with DefaultAzureCredential() as default, compute(arm, default) as client:
        vm = await client.virtual_machines.get(RG, "vm2")
    assert vm.storage_profile.os_disk.os_type == "Windows"


async def test_identity_endpoint_requires_the_secret_header(arm: ArmEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", arm.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
    async with ManagedIdentityCredential() as wrong:
        with pytest.raises(ClientAuthenticationError):
            await wrong.get_token("https://management.azure.com/.default")
    assert [(c.operation, c.status) for c in arm.calls][-1] == ("token", 401)


async def test_token_for_another_audience_is_refused(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    vault = await credential.get_token("https://vault.azure.net/.default")
    status, body, _ = await raw(arm, "GET", VM_PATH, token=vault.token, api_version="2024-07-01")
    assert status == 401
    assert body["error"]["code"] == "InvalidAuthenticationTokenAudience"


async def test_revoked_tokens_stop_working(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    token = await token_for(credential)
    assert (await raw(arm, "GET", VM_PATH, token=token, api_version="2024-07-01"))[0] == 200
    arm.tokens.revoke_all()
    assert (await raw(arm, "GET", VM_PATH, token=token, api_version="2024-07-01"))[0] == 401


async def test_missing_api_version_is_400(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    status, body, _ = await raw(arm, "GET", VM_PATH, token=await token_for(credential), api_version=None)
    assert status == 400
    assert body["error"]["code"] == "MissingApiVersionParameter"


@pytest.mark.parametrize(
    ("path", "version", "code"),
    [
        (f"{SUB_PATH}/providers/Microsoft.Security/jitNetworkAccessPolicies", "2099-01-01", NO_CODE),
        (f"{SUB_PATH}/providers/Microsoft.Security/pricings", "2020-01-01", NO_CODE),
        (VM_PATH, "yesterday", "InvalidApiVersionParameter"),
    ],
)  # fmt: skip
async def test_unsupported_api_versions_are_400(
    arm: ArmEmulator, credential: ManagedIdentityCredential, path: str, version: str, code: str
) -> None:
    status, body, _ = await raw(arm, "GET", path, token=await token_for(credential), api_version=version)
    assert (status, body["error"]["code"]) == (400, code)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", f"{SUB_PATH}/providers/Microsoft.Compute/disks", 404, "InvalidResourceType"),
        ("GET", "/nothing/here", 404, "ResourceNotFound"),
        ("GET", f"{NO_SUB}/providers/Microsoft.Compute/virtualMachines", 404, "SubscriptionNotFound"),
        ("GET", VM_PATH.replace(RG, "nope"), 404, "ResourceGroupNotFound"),
        ("GET", VM_PATH.replace("vm1", "ghost"), 404, "ResourceNotFound"),
        ("PATCH", VM_PATH, 405, "MethodNotAllowed"),
    ],
)  # fmt: skip
async def test_unknown_things_are_refused_like_arm(
    arm: ArmEmulator, credential: ManagedIdentityCredential, method: str, path: str, status: int, code: str
) -> None:
    answer = await raw(arm, method, path, token=await token_for(credential), api_version="2024-07-01")
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)


async def test_malformed_json_body_is_400(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    status, body, _ = await raw(arm, "PUT", POLICY_PATH, token=await token_for(credential), body="{not json")
    assert status == 400
    assert body["error"]["code"] == "InvalidRequestContent"
    assert arm.inventory.policies == []
