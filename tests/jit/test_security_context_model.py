"""The security context's values: a part is either read (with a value) or unread (with a reason), never both."""

from __future__ import annotations

import pytest

from jit.vm_security import ContextPart, PowerState, ReadOutcome, SecuritySeverity


def test_a_part_is_read_with_a_value_or_unread_without_one() -> None:
    assert ContextPart.read(PowerState.RUNNING).outcome is ReadOutcome.READ
    assert ContextPart.unread(ReadOutcome.SLOW, "budget").value is None
    with pytest.raises(ValueError, match="has a value"):
        ContextPart(None)
    with pytest.raises(ValueError, match="has a value"):
        ContextPart(PowerState.RUNNING, ReadOutcome.REFUSED)
    with pytest.raises(ValueError, match="has a value"):
        ContextPart.unread(ReadOutcome.READ)


def test_severities_rank_the_most_severe_first_and_unknown_last() -> None:
    ranked = sorted(SecuritySeverity, key=lambda s: s.rank)
    assert ranked == [
        SecuritySeverity.HIGH,
        SecuritySeverity.MEDIUM,
        SecuritySeverity.LOW,
        SecuritySeverity.INFORMATIONAL,
        SecuritySeverity.UNKNOWN,
    ]
