"""How much load each scenario sends: the full run behind BENCHMARKS.md, and a quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Sample counts and durations; ``rounds`` interleaves the three apps so machine noise hits them alike."""

    name: str
    warmup: int
    sequential: int
    concurrent: int
    rounds: int
    concurrency: int
    sequential_gap: float
    memory_requests: int
    approvals: int
    scheduled: int
    firing: int
    firing_spread: float
    idle_window: float
    e2e_warmup: int
    e2e_sequential: int
    e2e_concurrent: int
    e2e_gap: float
    e2e_approvals: int
    e2e_wait: float
    burst_commands: int
    burst_seconds: float
    enterprise_subscriptions: int
    enterprise_vms_per_subscription: int
    steady_rate: float
    steady_seconds: float
    steady_sample: float


FULL = Sizes(
    name="full",
    warmup=100,
    sequential=600,
    concurrent=3000,
    rounds=3,
    concurrency=50,
    sequential_gap=0.02,
    memory_requests=10_000,
    approvals=30,
    scheduled=100_000,
    firing=1_000,
    firing_spread=10.0,
    idle_window=10.0,
    e2e_warmup=20,
    e2e_sequential=200,
    e2e_concurrent=500,
    e2e_gap=0.05,
    e2e_approvals=30,
    e2e_wait=120.0,
    burst_commands=1000,
    burst_seconds=10.0,
    enterprise_subscriptions=500,
    enterprise_vms_per_subscription=100,
    steady_rate=10.0,
    steady_seconds=300.0,
    steady_sample=10.0,
)

QUICK = Sizes(
    name="quick",
    warmup=10,
    sequential=30,
    concurrent=200,
    rounds=1,
    concurrency=50,
    sequential_gap=0.01,
    memory_requests=400,
    approvals=3,
    scheduled=5_000,
    firing=40,
    firing_spread=2.0,
    idle_window=3.0,
    e2e_warmup=3,
    e2e_sequential=10,
    e2e_concurrent=50,
    e2e_gap=0.02,
    e2e_approvals=3,
    e2e_wait=15.0,
    burst_commands=14,
    burst_seconds=1.0,
    enterprise_subscriptions=12,
    enterprise_vms_per_subscription=20,
    steady_rate=10.0,
    steady_seconds=3.0,
    steady_sample=1.0,
)
