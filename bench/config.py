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
)
