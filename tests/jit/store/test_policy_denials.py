"""Remembered Azure Policy refusals of JIT: per VM, case-insensitive, fading after their time to live."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.model import PolicyDenial
from jit.store.codec import CodecError
from jit.store.keys import Keys
from jit.store.policy_denials import DEFAULT_DENIAL_TTL, PolicyDenials, decode_denial, encode_denial

VM = "/subscriptions/s1/resourceGroups/RG-Data/providers/Microsoft.Compute/virtualMachines/Vault-01"
OTHER = "/subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/web-01"


def denial(clock: ManualClock, vm: str = VM, assignment: str = "Locked-down VMs") -> PolicyDenial:
    return PolicyDenial(
        vm,
        assignment,
        f"/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/{assignment[:4]}",
        clock.now(),
    )


async def test_a_refusal_is_remembered_per_vm_and_forgotten_after_a_success(
    redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    denials = PolicyDenials(redis_client, clock, prefix="pd-test")
    assert await denials.get(VM) is None and await denials.all() == {}
    first = denial(clock)
    await denials.remember(first)
    await denials.remember(denial(clock, OTHER, ""))
    assert await denials.get(VM.upper()) == first
    found = await denials.all()
    assert set(found) == {VM.lower(), OTHER.lower()} and found[OTHER.lower()].assignment == ""
    await denials.forget(VM.lower())
    assert await denials.get(VM) is None and set(await denials.all()) == {OTHER.lower()}
    assert await PolicyDenials(redis_client, clock, prefix="other").all() == {}


async def test_a_refusal_fades_after_its_time_to_live_and_the_key_expires(
    redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    denials = PolicyDenials(redis_client, clock, prefix="pd-test")
    await denials.remember(denial(clock))
    key = Keys("pd-test").policy_denied
    assert 0 < await redis_client.pttl(key) <= DEFAULT_DENIAL_TTL // timedelta(milliseconds=1)
    clock.advance(DEFAULT_DENIAL_TTL - timedelta(seconds=1))
    assert await denials.get(VM) is not None
    await denials.remember(denial(clock, OTHER))
    clock.advance(timedelta(seconds=1))
    assert await denials.get(VM) is None and set(await denials.all()) == {OTHER.lower()}


async def test_an_unreadable_entry_is_ignored(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    denials = PolicyDenials(redis_client, clock, prefix="pd-test")
    await redis_client.hset(Keys("pd-test").policy_denied, VM.lower(), "{not json")
    assert await denials.get(VM) is None and await denials.all() == {}


def test_the_stored_form_round_trips_and_refuses_garbage(clock: ManualClock) -> None:
    original = denial(clock)
    assert decode_denial(encode_denial(original)) == original
    unnamed = PolicyDenial(VM, "", None, clock.now())
    assert decode_denial(encode_denial(unnamed).encode()) == unnamed
    for garbage in ("[]", '{"vm": "x"}', '{"vm": "x", "at": "yesterday"}'):
        with pytest.raises(CodecError):
            decode_denial(garbage)
