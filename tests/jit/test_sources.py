"""What counts as a wide source: a prefix shorter than the threshold of its family."""

from __future__ import annotations

import pytest

from jit.sources import WidePrefixes, addresses, wide_source_extra


@pytest.mark.parametrize(
    ("source", "threshold"),
    [
        ("0.0.0.0/0", 16),
        ("0.0.0.0/1", 16),
        ("10.0.0.0/15", 16),
        ("10.0.0.0/16", None),
        ("203.0.113.7", None),
        ("::/0", 48),
        ("2001:db8::/47", 48),
        ("2001:db8::/48", None),
        ("not a network", None),
    ],
)
def test_wide_means_a_shorter_prefix_than_the_threshold(source: str, threshold: int | None) -> None:
    assert WidePrefixes().threshold(source) == threshold


def test_thresholds_are_per_family_and_stored_with_the_request() -> None:
    strict = WidePrefixes(ipv4=24, ipv6=64)

    assert strict.threshold("198.51.100.0/23") == 24 and strict.threshold("2001:db8::/56") == 64
    assert wide_source_extra("198.51.100.0/23", strict) == {"wide_source": "24"}
    assert wide_source_extra("198.51.100.0/24", strict) == {}
    assert WidePrefixes(ipv4=0).threshold("0.0.0.0/0") is None
    assert addresses("0.0.0.0/1") == "2,147,483,648"
