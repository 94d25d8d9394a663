"""Fixtures for the domain's unit tests: the use cases on in-memory doubles of every port."""

from __future__ import annotations

import pytest

from tests.jit.doubles.world import World


@pytest.fixture
def world() -> World:
    """A VM with a JIT policy, its rule, its people, and the service on doubles; time stands still until moved."""
    return World()
